"""One rule for existing outputs: every command refuses to replace them unless --overwrite (or --resume)."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT
from xrouter.cli.main import main

SAMPLE = str(REPO_ROOT / "xrouter" / "resources" / "llmrouter_sample.csv")


def _twice(capsys, argv: list[str], existing: str) -> None:
    """The second run is refused with exit 2 naming the file and the flag; --overwrite then succeeds."""
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert existing in err and "exists; pass --overwrite" in err
    assert main([*argv, "--overwrite"]) == 0


def test_tools_out_file(capsys, tmp_path):
    """tools --out FILE."""
    out = tmp_path / "tools.json"
    _twice(capsys, ["tools", "--models", "gpt-5-mini", "--out", str(out)], str(out))


def test_replay_catalog_out_file(capsys, tmp_path):
    """replay catalog --out FILE."""
    out = tmp_path / "replay.yaml"
    _twice(capsys, ["replay", "catalog", "--data", SAMPLE, "--out", str(out)], str(out))


def test_frontier_out_folder(capsys, tmp_path):
    """frontier --out DIR holding an earlier frontier.csv."""
    argv = ["frontier", "--data", SAMPLE, "--lambdas", "0,1", "--no-plot", "--out", str(tmp_path)]
    _twice(capsys, argv, str(tmp_path / "frontier.csv"))


def test_bench_out_folder_mentions_resume(capsys, tmp_path):
    """bench --out DIR: refused, and the message also offers --resume; --resume with --overwrite is an error."""
    argv = ["bench", "--dataset", SAMPLE, "--policy", "cheapest", "--limit", "5", "--no-plot", "--out", str(tmp_path)]
    _twice(capsys, argv, str(tmp_path / "samples.jsonl"))
    assert main(argv) == 2 and "or --resume to continue it" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0
    assert main([*argv, "--resume", "--overwrite"]) == 2


def test_fit_router_refuses_before_embedding(capsys, tmp_path):
    """fit-router --out DIR with a router.json: refused before the (slow) embedding starts."""
    (tmp_path / "router.json").write_text("{}")
    assert main(["fit-router", "--data", SAMPLE, "--out", str(tmp_path)]) == 2
    assert f"{tmp_path / 'router.json'} exists; pass --overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["preprocess-source"])
def test_preprocess_source_out_folder(capsys, tmp_path, command):
    """preprocess-source --out DIR (the preprocessing commands check each file they would write)."""
    argv = [command, "routerbench", "--input", SAMPLE, "--out", str(tmp_path / "rows"), "--limit", "3"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2 and "exists; pass --overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
