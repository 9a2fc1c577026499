"""Real training on the CPU: verl's SFT trainer and `main_ppo` DAPO through `xrouter train`, then serving.

Run: .venv/bin/python -m pytest -q tests/verl_plugin/test_cpu_training_on_cpu.py   (~5 min on 2 cores)

The workspace is made by the project's own commands from RouterBench queries that the strong pool model
answers right and the cheap one wrong. The policy is a tiny model overfitted here on uniform routing
traces (it calls either model about half the time), so RL groups differ in reward; tool calls go over
HTTP to the replay provider that `xrouter train --replay` starts on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import wait_until_healthy
from tests.train.policy import POOL, disagreeing_slice, overfit

pytestmark = [pytest.mark.ray, pytest.mark.slow]
TINY_ROUTER = {"vocab_size": 1024, "hidden_size": 64, "intermediate_size": 192, "num_layers": 2, "num_heads": 2,
               "num_kv_heads": 1, "max_positions": 4096}  # fmt: skip


def xrouter(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The `xrouter` CLI in a subprocess (inherits this test process's private network namespace)."""
    return subprocess.run(
        [sys.executable, "-m", "xrouter.cli.main", *argv], capture_output=True, text=True, timeout=timeout
    )


def steps(metrics: Path) -> list[dict]:
    """verl's per-step metrics lines (training steps only)."""
    lines = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    return [line["data"] for line in lines if any(k.startswith(("actor/", "train/")) for k in line["data"])]


@pytest.fixture(scope="module")
def routing(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict:
    """Workspace (rows, tools, traces), an untrained policy and a warm-started (overfitted) copy."""
    import shutil

    from xrouter.cli.init_policy import trace_texts
    from xrouter.train.models import PolicySize, build_policy_model
    from xrouter.train.workspace import prepare

    work = tmp_path_factory.mktemp("cpu_training")
    data = disagreeing_slice(shared_data, work / "slice.csv", count=6)
    ws = prepare(work / "ws", [data], POOL, mode="simple", sft_args=["--per-row", "6"])
    fresh = build_policy_model(work / "fresh", trace_texts([str(ws.traces)]), PolicySize(**TINY_ROUTER))
    warm = Path(shutil.copytree(fresh, work / "warm"))
    overfit(warm, ws.traces, steps=150)
    return {"ws": ws, "data": data, "fresh": fresh, "warm": warm, "work": work}


def rl_args(routing: dict, model: Path, out: Path, *extra: str) -> list[str]:
    ws = routing["ws"]
    return ["train", "--stage", "rl", "--preset", "cpu", "--model", str(model), "--train-files", str(ws.rows),
            "--replay", str(routing["data"]), "--tools", str(ws.tools), "--out", str(out), "--steps", "2",
            "--batch-size", "2", "--rollouts", "4", "--cost-lambda", "50", "--",
            "data.max_prompt_length=2048", "data.max_response_length=96", *extra]  # fmt: skip


def test_sft_steps_lower_the_loss_and_merge_to_a_loadable_model(routing: dict, tmp_path: Path):
    """verl's SFT trainer on `xrouter sft-data` traces (through RouterSFTDataset) lowers the loss on CPU."""
    out = tmp_path / "sft"
    args = ["train", "--stage", "sft", "--preset", "cpu", "--model", str(routing["fresh"]), "--train-files",
            str(routing["ws"].traces), "--out", str(out), "--steps", "4", "--batch-size", "4", "--lr", "3e-3"]  # fmt: skip
    proc = xrouter(*args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    losses = [s["train/loss"] for s in steps(out / "metrics.jsonl")]
    assert len(losses) == 4 and losses[-1] < losses[0]
    from xrouter.train.models import is_model_folder

    assert is_model_folder(out / "model")


@pytest.fixture(scope="module")
def rl_run(routing: dict) -> dict:
    """Two DAPO steps from the warm start (`xrouter train --stage rl --preset cpu`)."""
    out = routing["work"] / "rl"
    proc = xrouter(*rl_args(routing, routing["warm"], out))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return {"out": out, "stdout": proc.stdout}


def test_dapo_steps_with_replayed_tool_calls_change_the_weights(routing: dict, rl_run: dict):
    """Two DAPO steps: tool calls answered over HTTP by the replay provider, gradients, new weights, a merge."""
    import torch
    from safetensors.torch import load_file

    out = rl_run["out"]
    assert "main_ppo --config-dir" in rl_run["stdout"].splitlines()[0]  # the exact verl command comes first
    logged = steps(out / "metrics.jsonl")
    assert len(logged) == 2
    assert max(s["actor/grad_norm"] for s in logged) > 0
    assert all(s["xrouter/num_calls/mean"] > 0 and s["xrouter/cost_usd/mean"] > 0 for s in logged)
    for key in ("xrouter/valid_tool_call_rate", "xrouter/filter_keep_rate", "xrouter/acc/mean"):
        assert all(key in s for s in logged), key
    shares = {k for s in logged for k in s if k.startswith("xrouter/model_share/")}
    assert shares and shares <= {f"xrouter/model_share/{m}" for m in POOL}
    before = load_file(str(routing["warm"] / "model.safetensors"))
    after = load_file(str(out / "model" / "model.safetensors"))  # the merger writes bf16
    changed = [n for n, t in after.items() if not torch.equal(t, before[n].to(t.dtype))]
    assert changed, "no weight differs from the warm start: the updates never reached the checkpoint"


def test_a_policy_without_learning_signal_stops_with_a_clear_error(routing: dict, tmp_path: Path):
    """An untrained policy never calls a tool, every group scores the same, and the stall guard stops the run."""
    out = tmp_path / "stall"
    proc = xrouter(*rl_args(routing, routing["fresh"], out, "xrouter.stall_gen_batches=2"), timeout=480)
    assert proc.returncode == 1
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("xrouter train: error: verl exited with 1: training stalled:"), message
    found = re.search(r"and (\d+) replacement prompts", message)
    assert found and int(found.group(1)) <= 2 * 2, message  # never more than stall_gen_batches x batch size
    assert "xrouter.stall_gen_batches=2" in message
    assert "made no valid tool call" in message and "warm-start" in message


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_merged_checkpoint_serves_a_request_that_calls_a_model(routing: dict, rl_run: dict):
    """`xrouter serve --policy hf:OUT/model` answers over HTTP; the router's tool call is run by the engine."""

    import httpx
    import pandas as pd

    rows = pd.read_parquet(next(routing["ws"].rows.glob("*.parquet")))
    query = str(rows["extra_info"].iloc[0]["user_messages"][0]["content"])
    port = _free_port()
    command = [sys.executable, "-m", "xrouter.cli.main", "serve", "--policy", f"hf:{rl_run['out'] / 'model'}",
               "--replay-data", str(routing["data"]), "--mode", "simple", "--models", ",".join(POOL),
               "--router-temperature", "0", "--port", str(port), "--no-ledger"]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, timeout_s=90)
        body = {"model": "router", "messages": [{"role": "user", "content": query}]}
        response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)
        assert response.status_code == 200, response.text
        meta = response.json()["router_metadata"]
        assert meta["routing_strategy"] == "delegate_to_model"
        call = meta["call_history"][0]
        assert call["model"] in POOL and call["success"]
        assert response.json()["choices"][0]["message"]["content"] == call["output"]  # the replayed answer, unchanged
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_bench_runs_the_merged_checkpoint_through_the_engine(routing: dict, rl_run: dict, tmp_path: Path):
    """`xrouter bench --policy hf:OUT/model` scores the checkpoint's episodes on replayed outcomes."""
    out = tmp_path / "bench"
    proc = xrouter("bench", "--dataset", str(routing["data"]), "--policy", f"hf:{rl_run['out'] / 'model'}",
                   "--policy", f"single:{POOL[0]}", "--models", ",".join(POOL), "--out", str(out), "--no-plot")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    mine = [s for s in samples if s["policy"].startswith("hf:")]
    assert len(mine) == 6  # every query of the slice
    assert any(s["calls"] == 1 and s["models"][0] in POOL and s["cost_usd"] > 0 for s in mine)
