"""`xrouter data fetch` against a local HTTP server: layout, verification, conversion, and nothing left on failure."""

from __future__ import annotations

import hashlib
import json
import pickle
import socket
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest

from xrouter.cli.main import main
from xrouter.data.fetch import DATASETS, fetch_dataset
from xrouter.data.outcomes import load_outcomes
from xrouter.data.sources import source_rows
from xrouter.llm.replay import ReplayCaller, ReplayStore


def _path(url: str) -> str:
    return urlsplit(url).path


def _leftovers(root: Path) -> list[Path]:
    return sorted(root.rglob("*")) if root.exists() else []


def test_routerbench_slices_land_where_replay_and_the_adapters_read_them(file_server, shared_data, tmp_path):
    """The three RouterBench train files, byte-identical, verified, under routerbench_slices/ with SOURCE.json."""
    for remote in DATASETS["routerbench-slices"].files:
        file_server.files[_path(remote.url)] = (shared_data / "routerbench_slices" / remote.dest).read_bytes()
    root = tmp_path / "data"
    assert main(["data", "fetch", "routerbench-slices", "--out", str(root), "--mirror", file_server.url]) == 0
    folder = root / "routerbench_slices"
    assert sorted(p.name for p in folder.iterdir()) == [
        "SOURCE.json", "arc_challenge_train.csv", "mbpp_train.csv", "winograde_train.csv"]  # fmt: skip
    about = json.loads((folder / "SOURCE.json").read_text())
    assert {f["sha256"] for f in about["files"]} == {r.sha256 for r in DATASETS["routerbench-slices"].files}
    table = load_outcomes([folder])
    assert len(table.models) == 11 and len(table.queries()) == 2225


def test_progress_reaches_the_file_size(file_server, tmp_path):
    """The progress callback sees growing byte counts ending at the Content-Length."""
    spec = DATASETS["aime24"]
    body = _aime_lines(3)
    file_server.files[_path(spec.files[0].url)] = body
    seen: list[tuple[int, int | None]] = []
    patched = _with_sha(spec, body)
    fetch_dataset(patched, tmp_path, mirror=file_server.url, progress=lambda name: lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (len(body), len(body)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(list(source_rows("aime24")(tmp_path / "evalsets" / "aime24" / "test.jsonl"))) == 3


def test_checksum_mismatch_is_one_line_and_leaves_nothing(file_server, tmp_path, capsys):
    """Wrong bytes for a pinned file: exit 2, a line naming the URL and both sums, no folder at all."""
    for remote in DATASETS["gsm8k"].files:
        file_server.files[_path(remote.url)] = b'{"question": "1+1?", "answer": "#### 2"}\n'
    root = tmp_path / "data"
    assert main(["data", "fetch", "gsm8k", "--out", str(root), "--mirror", file_server.url]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "checksum mismatch" in err and DATASETS["gsm8k"].files[0].sha256 in err
    assert not root.exists()


def test_offline_is_one_line_exit_2_and_leaves_nothing(tmp_path, capsys):
    """A host that cannot be reached (a closed local port): one line saying so, exit 2, nothing written."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    root = tmp_path / "data"
    assert main(["data", "fetch", "routerbench", "--out", str(root), "--mirror", closed]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot download from 127.0.0.1" in err and "offline" in err
    assert not root.exists()


def test_existing_data_set_needs_overwrite(file_server, tmp_path, capsys):
    """A second fetch into the same folder is refused; --overwrite replaces it."""
    spec = DATASETS["aime24"]
    body = _aime_lines(2)
    file_server.files[_path(spec.files[0].url)] = body
    fetch_dataset(_with_sha(spec, body), tmp_path, mirror=file_server.url)
    with pytest.raises(Exception, match="exists; pass --overwrite"):
        fetch_dataset(_with_sha(spec, body), tmp_path, mirror=file_server.url)
    fetch_dataset(_with_sha(spec, body), tmp_path, mirror=file_server.url, overwrite=True)
    assert [p.name for p in _leftovers(tmp_path / "evalsets")] == ["aime24", "SOURCE.json", "test.jsonl"]


def _routerbench_frame() -> pd.DataFrame:
    """A RouterBench-shaped DataFrame as the hub pickle holds it: list cells, NaN outcomes, two benchmarks."""
    return pd.DataFrame(
        {
            "sample_id": ["arc-challenge.test.1", "arc-challenge.test.2", "mbpp.test.1"],
            "prompt": [
                ["Question: 2+2? A) 3 B) 4", "Answer:"],
                ["Which is a mammal? A) cat B) fish"],
                ["def f(): ..."],
            ],
            "eval_name": ["arc-challenge", "arc-challenge", "mbpp"],
            "gpt-4-1106-preview": [1.0, 1.0, 0.0],
            "gpt-4-1106-preview|model_response": [["B) 4"], ["A"], ["def f(): return 1"]],
            "gpt-4-1106-preview|total_cost": [0.003, 0.002, 0.004],
            "mistralai/mistral-7b-chat": [0.0, np.nan, 1.0],
            "mistralai/mistral-7b-chat|model_response": [["A) 3"], [""], ["def f(): return 2"]],
            "mistralai/mistral-7b-chat|total_cost": [0.0001, 0.0001, 0.0002],
            "oracle_model_to_route_to": ["gpt-4-1106-preview", "gpt-4-1106-preview", "mistralai/mistral-7b-chat"],
        },
        index=[10, 11, 12],
    )


@pytest.mark.parametrize("protocol,as_object", [(4, False), (2, True), (5, True)])
def test_routerbench_pickle_is_converted_to_benchmark_csvs(file_server, tmp_path, protocol, as_object):
    """The hub's pickle (checked against the hub's SHA-256) becomes one CSV per benchmark that replay answers from."""
    frame = _routerbench_frame()
    body = pickle.dumps(frame.astype(object) if as_object else frame, protocol=protocol)
    file_server.hub[_path(DATASETS["routerbench"].files[0].url)] = body
    root = tmp_path / "data"
    assert main(["data", "fetch", "routerbench", "--out", str(root), "--mirror", file_server.url]) == 0
    folder = root / "routerbench"
    assert sorted(p.name for p in folder.iterdir()) == ["SOURCE.json", "arc-challenge.csv", "mbpp.csv"]
    assert json.loads((folder / "SOURCE.json").read_text())["files"][0]["sha256"] == hashlib.sha256(body).hexdigest()
    table = load_outcomes([folder])
    assert set(table.models) == {"gpt-4-1106-preview", "mistralai/mistral-7b-chat"} and len(table.queries()) == 3
    rows = list(source_rows("routerbench")(folder / "arc-challenge.csv"))
    assert rows[0]["prompt"][0]["content"] == "Question: 2+2? A) 3 B) 4\nAnswer:"
    assert rows[0]["reward_model"]["ground_truth"] == "B"  # the letter the correct model answered
    store = ReplayStore(table)
    assert store.num_queries == 3
    result = _replay(store, rows[0]["prompt"][0]["content"], "gpt-4-1106-preview")
    assert result.success and result.text == "B) 4" and result.cost_usd == pytest.approx(0.003)


def test_hub_file_without_a_reported_checksum_is_refused(file_server, tmp_path, capsys):
    """A hub answer without X-Linked-Etag cannot be verified: exit 2, nothing kept."""
    file_server.hub[_path(DATASETS["routerbench"].files[0].url)] = pickle.dumps(_routerbench_frame())
    file_server.report_sha256 = False
    assert main(["data", "fetch", "routerbench", "--out", str(tmp_path / "d"), "--mirror", file_server.url]) == 2
    assert "cannot be verified" in capsys.readouterr().err and not (tmp_path / "d").exists()


class _Boom:
    def __reduce__(self):  # noqa: ANN204 - what a malicious pickle does
        import os

        return (os.system, ("touch pwned",))


def test_pickle_naming_other_code_is_refused_without_running_it(file_server, tmp_path, capsys, monkeypatch):
    """A pickle that calls os.system is refused before the call; the command's file never appears."""
    monkeypatch.chdir(tmp_path)
    file_server.hub[_path(DATASETS["routerbench"].files[0].url)] = pickle.dumps({"frame": _Boom()})
    assert main(["data", "fetch", "routerbench", "--out", str(tmp_path / "d"), "--mirror", file_server.url]) == 2
    err = capsys.readouterr().err
    assert "refusing to load" in err and "system" in err
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "d").exists()


def _replay(store: ReplayStore, text: str, model: str):  # noqa: ANN202 - a CallResult
    import asyncio

    return asyncio.run(ReplayCaller(store).call(model, [{"role": "user", "content": text}]))


def _aime_lines(n: int) -> bytes:
    lines = [json.dumps({"id": i, "problem": f"What is {i}+1?", "answer": str(i + 1)}) for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def _with_sha(spec, body: bytes):  # noqa: ANN001, ANN202 - a DatasetSpec
    """The spec with its one file's pinned checksum replaced by that of `body` (a stand-in file)."""
    from dataclasses import replace

    remote = replace(spec.files[0], sha256=hashlib.sha256(body).hexdigest())
    return replace(spec, files=(remote,))
