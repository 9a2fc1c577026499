"""A ledger whose last line a crash tore stays readable: the writer starts a fresh line, the reader skips it."""

from __future__ import annotations

import logging

import pytest

from tests.faults.conftest import fault_settings
from xrouter.errors import DataError
from xrouter.llm.ledger import Ledger, read_ledger
from xrouter.llm.types import CallResult
from xrouter.serve.app import create_app
from xrouter.serve.background import BackgroundServer


def _write(path, count: int, start: int = 0) -> None:
    with Ledger(path) as ledger:
        for index in range(start, start + count):
            ledger.append(CallResult("m", "", True, request_id=f"r{index}"))


def _tear(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 25])  # the last line loses its end, as in a crash mid-write


def test_restart_after_a_torn_last_line_appends_on_a_fresh_line(tmp_path, caplog):
    """Crash, restart, append: every complete line and every new one reads back; the torn one is skipped loudly."""
    path = tmp_path / "ledger.jsonl"
    _write(path, 3)
    _tear(path)
    caplog.set_level(logging.WARNING)
    assert [r["request_id"] for r in read_ledger(path)] == ["r0", "r1"]  # before the restart
    _write(path, 2, start=3)
    assert [r["request_id"] for r in read_ledger(path)] == ["r0", "r1", "r3", "r4"]
    assert "torn" in caplog.text and "line 3" in caplog.text


def test_only_a_torn_line_is_skipped_never_other_damage(tmp_path):
    """A line broken in another way, anywhere, is still a DataError naming the line."""
    path = tmp_path / "ledger.jsonl"
    _write(path, 2)
    path.write_bytes(path.read_bytes() + b"garbage that is not a record\n")
    _write(path, 1, start=2)
    with pytest.raises(DataError, match="line 3"):
        list(read_ledger(path))


def test_server_restarted_on_a_torn_ledger_writes_readable_lines(upstream, fault_catalog, tmp_path):
    """The router server opening a torn ledger: its request lines read back after the torn one."""
    path = tmp_path / "serve.jsonl"
    _write(path, 2)
    _tear(path)
    settings = fault_settings(upstream[0], fault_catalog, path)
    with BackgroundServer(create_app(settings)) as server:
        import httpx

        body = {"model": "router", "messages": [{"role": "user", "content": "hello [[r1=text]]"}]}
        headers = {"Authorization": f"Bearer {settings.api_key}"}
        assert httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=headers).status_code == 200
    records = list(read_ledger(path))
    assert records[0]["request_id"] == "r0" and records[-1]["kind"] == "request" and len(records) == 2
