"""`router_dapo.yaml` through verl's own entry point: composition, effective keys, and a CPU dry run.

Run: .venv/bin/python -m pytest -q tests/verl_plugin/test_config_on_cpu.py   (dry run ~1-2 min)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from xrouter.engine.prompts import router_messages

CONFIG_DIR = Path(__file__).resolve().parents[2] / "xrouter" / "config"


def main_ppo(*overrides: str, timeout: float = 240.0) -> subprocess.CompletedProcess:
    """`python -m verl.trainer.main_ppo --config-dir xrouter/config --config-name router_dapo ...`."""
    cmd = [
        sys.executable,
        "-m",
        "verl.trainer.main_ppo",
        "--config-dir",
        str(CONFIG_DIR),
        "--config-name",
        "router_dapo",
    ]
    return subprocess.run([*cmd, *overrides], capture_output=True, text=True, timeout=timeout)


def find_keys(node: Any, key: str, path: str = "") -> dict[str, Any]:
    """Every `path: value` in a nested mapping whose last key is `key`."""
    found: dict[str, Any] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}" if path else str(k)
            if k == key:
                found[here] = v
            found.update(find_keys(v, key, here))
    return found


@pytest.fixture(scope="module")
def composed() -> dict[str, Any]:
    """The resolved job config with λ overridden once in the xrouter block."""
    proc = main_ppo(
        "--cfg",
        "job",
        "--resolve",
        "actor_rollout_ref.rollout.name=sglang",
        "actor_rollout_ref.model.path=/m",
        "xrouter.cost_lambda=5.0",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return yaml.safe_load(proc.stdout)


def test_reward_settings_sit_under_reward_keys(composed):
    """Reward function, manager and λ/K/cost_max live under reward.* (the keys main_ppo 0.9.1 reads)."""
    reward = composed["reward"]
    assert reward["custom_reward_function"]["path"] == "pkg://xrouter.reward"
    assert reward["custom_reward_function"]["name"] == "compute_score"
    assert reward["custom_reward_function"]["reward_kwargs"] == {
        "shaping": "xrouter",
        "cost_lambda": 5.0,
        "reward_K": 1.0,
        "cost_max": 0.8,
    }
    assert reward["reward_manager"] == {**reward["reward_manager"], "source": "register", "name": "xrouter_dapo"}
    assert reward["reward_kwargs"]["max_resp_len"] == composed["data"]["max_response_length"]
    assert composed["custom_reward_function"]["path"] is None  # the silently ignored legacy key stays unused


def test_validation_and_training_share_one_lambda(composed):
    """λ exists only in the xrouter block and the one reward_kwargs verl's reward workers use for train and val."""
    assert find_keys(composed, "cost_lambda") == {
        "xrouter.cost_lambda": 5.0,
        "reward.custom_reward_function.reward_kwargs.cost_lambda": 5.0,
    }
    assert "reward_kwargs" not in (composed.get("reward_model") or {})


def test_dapo_and_multi_turn_settings(composed):
    """GRPO, clip 0.2/0.28, token-mean, no KL, dynamic sampling on `acc` (answer quality), xrouter_agent."""
    actor = composed["actor_rollout_ref"]["actor"]
    rollout = composed["actor_rollout_ref"]["rollout"]
    algo = composed["algorithm"]
    assert algo["adv_estimator"] == "grpo" and algo["use_kl_in_reward"] is False
    assert algo["filter_groups"]["enable"] is True and algo["filter_groups"]["metric"] == "acc"
    assert (actor["clip_ratio_low"], actor["clip_ratio_high"]) == (0.2, 0.28)
    assert actor["loss_agg_mode"] == "token-mean" and actor["use_kl_loss"] is False
    assert rollout["agent"]["default_agent_loop"] == "xrouter_agent"
    assert rollout["multi_turn"]["max_tool_response_length"] == 8192
    assert rollout["multi_turn"]["max_assistant_turns"] == composed["xrouter"]["max_turns"] == 3
    assert composed["reward"]["reward_kwargs"]["overlong_buffer_cfg"]["len"] == 4096
    assert composed["trainer"]["v1"]["trainer_mode"] == "xrouter_sync"


def _rows(path: Path) -> Path:
    user = [{"role": "user", "content": "What is 2+3?"}]
    row = {
        "data_source": "qa",
        "prompt": router_messages(user, "agent"),
        "ability": "qa",
        "reward_model": {"style": "rule", "ground_truth": "5"},
        "agent_name": "xrouter_agent",
        "extra_info": {
            "index": 0,
            "query_id": "q-add",
            "user_messages": user,
            "mode": "agent",
            "tool_selection": ["call_cheap_a"],
        },
    }
    pd.DataFrame([row, {**row}]).to_parquet(path)
    return path


@pytest.mark.ray
@pytest.mark.slow
def test_dry_run_stops_at_verls_gpu_check(tmp_path: Path, tiny_model: Path, tool_config: Path):
    """On CPU main_ppo gets through config, Ray, TransferQueue and data, then stops at verl's GPU check."""
    rows = _rows(tmp_path / "rows.parquet")
    proc = main_ppo(
        f"data.train_files={rows}",
        f"data.val_files={rows}",
        "data.train_batch_size=2",
        f"actor_rollout_ref.model.path={tiny_model}",
        "actor_rollout_ref.rollout.name=sglang",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        f"actor_rollout_ref.rollout.multi_turn.tool_config_path={tool_config}",
        "trainer.n_gpus_per_node=1",
        "trainer.nnodes=1",
        "trainer.logger=[console]",
        "ray_kwargs.ray_init.num_cpus=16",
        "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
        "reward.num_workers=1",
        "actor_rollout_ref.rollout.agent.num_workers=1",
        timeout=420.0,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Total available GPUs 0 is less than total desired GPUs 1" in output, output[-3000:]
    assert "ConfigAttributeError" not in output and "ConfigKeyError" not in output
