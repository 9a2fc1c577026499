"""Append-only JSONL cost ledger: one line per target-model call.

Each record is written with a single `os.write` on a file opened with `O_APPEND`, so lines from
several processes never interleave and a crash loses at most the line being written. A writer that
finds the file ending mid-line (a crash tore its last line) starts on a fresh line, and `read_ledger`
skips a torn line (a record cut off before its end) with a warning; any other broken line is an error.
Error messages are redacted (`xrouter.llm.redact`) before they are written.

Record fields: `ts` (unix time), `request_id`, `query_id`, `model_id`, `success`, `input_tokens`,
`cached_input_tokens`, `output_tokens`, `reasoning_tokens`, `cost_usd`, `spent_usd`, `latency_s`,
`cache_hit`, `provider`, `finish_reason`, `attempts`, `litellm_cost_usd`, `estimated`, `cost_replaced`,
`error` ({kind, message, status_code} or null), plus any extra keyword fields given to `append`.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xrouter.errors import DataError
from xrouter.llm.redact import redact
from xrouter.llm.types import CallResult

logger = logging.getLogger(__name__)


def ledger_record(result: CallResult, **extra: Any) -> dict[str, Any]:
    """The flat ledger record of one call (no response text: the ledger is for accounting)."""
    record: dict[str, Any] = {"ts": round(time.time(), 6), "request_id": result.request_id}
    record.update(extra)
    record.update(
        {
            "model_id": result.model_id,
            "success": result.success,
            **result.usage.to_dict(),
            "cost_usd": result.cost_usd,
            "spent_usd": result.spent_usd,
            "latency_s": round(result.latency_s, 6),
            "cache_hit": result.cache_hit,
            "provider": result.provider,
            "finish_reason": result.finish_reason,
            "attempts": result.attempts,
            "litellm_cost_usd": result.litellm_cost_usd,
            "estimated": result.estimated,
            "cost_replaced": result.cost_replaced,
            "error": None
            if result.error is None
            else {
                "kind": result.error.kind,
                "message": redact(result.error.message),
                "status_code": result.error.status_code,
            },
        }
    )
    return record


def append_line(fd: int, data: bytes) -> None:
    """Append one encoded line to an `O_APPEND` descriptor with a single `os.write`.

    One write keeps the line whole among concurrent writers and lets a killed process leave at most a
    torn last line. Should the kernel accept fewer bytes (disk nearly full), the rest follows at once
    rather than leaving the line torn mid-file.
    """
    written = os.write(fd, data)
    while written < len(data):
        written += os.write(fd, data[written:])


class Ledger:
    """Append-only JSONL ledger of calls, safe to share between threads and processes."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataError(f"{self.path}: cannot open ledger for appending ({exc.strerror})") from None
        self._seal_torn_tail()

    def _seal_torn_tail(self) -> None:
        """End a torn last line (left by a crash mid-write) so the next record starts on a line of its own."""
        try:
            info = os.fstat(self._fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
                return  # a pipe or a terminal has no tail to repair
            with open(self.path, "rb") as handle:
                handle.seek(info.st_size - 1)
                torn = handle.read(1) != b"\n"
        except OSError:  # unreadable (write-only file): nothing to check
            return
        if torn:
            logger.warning("%s: the last line is torn (a crash mid-write); appending after it", self.path)
            append_line(self._fd, b"\n")

    def append(self, result: CallResult, **extra: Any) -> None:
        """Append one call (plus `extra` fields such as query_id) as one JSON line."""
        line = json.dumps(ledger_record(result, **extra), default=str, ensure_ascii=False) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            append_line(self._fd, data)
            if self._fsync:
                os.fsync(self._fd)

    def close(self) -> None:
        """Close the file descriptor (appending afterwards raises)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def _torn(line: str, error: json.JSONDecodeError) -> bool:
    """True when a line is a record cut off before its end (what a crash mid-write leaves), not other damage."""
    body = line.rstrip("\n")
    return body.startswith("{") and (error.pos >= len(body) or error.msg.startswith("Unterminated string"))


def read_ledger(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of a ledger file; torn lines (crash-truncated records) are skipped with a warning."""
    path = Path(path)
    with path.open("r", encoding="utf-8") as handle:
        lines = handle.readlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            if _torn(line, exc):
                logger.warning("%s: skipping torn line %d (a record cut off by a crash)", path, number)
                continue
            raise DataError(f"{path}: line {number} is not valid JSON") from None
