"""Ray end to end on CPU: verl's AgentLoopManager + streaming RewardLoopManager with the xrouter plugin.

Run: .venv/bin/python -m pytest -q tests/verl_plugin/test_ray_rollout_on_cpu.py   (~1-2 min on 2 cores)

Rows come from `xrouter preprocess-source routerbench` + `xrouter preprocess` on a RouterBench slice;
target calls go through LiteLLM over HTTP to the replay server on 127.0.0.1 answering from the same
slice; the policy is the scripted token-level server. Rewards must equal `xrouter.reward.compute_score`
on the same trajectories.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.ray

CONFIG_DIR = Path(__file__).resolve().parents[2] / "xrouter" / "config"
RB_FILE = "routerbench_slices/winograde_train.csv"


def compose_config(overrides: list[str]):
    """The router_dapo config composed by hydra, as main_ppo would see it."""
    from xrouter.config import compose

    return compose("router_dapo", overrides)


@pytest.fixture(scope="module")
def rb_setup(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, tiny_model: Path):
    """Preprocessed RouterBench rows, the replay server and a tool YAML pointed at it."""
    from xrouter.verl_plugin.scripted import replay_rollout_workspace

    setup = replay_rollout_workspace(tmp_path_factory.mktemp("rb"), shared_data / RB_FILE, prompts=3)
    yield {"rows": setup["rows"], "tools": setup["tools"], "model": tiny_model}
    setup["server"].stop()


@pytest.fixture(scope="module")
def ray_cluster():
    """One 2-CPU Ray cluster for the module (HOME already points at the local-provider folder)."""
    import ray

    env = {
        k: v for k, v in os.environ.items() if k.startswith(("LITELLM_", "HF_", "TRANSFORMERS_", "RAY_", "TOKENIZERS"))
    }
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env})
    yield ray
    ray.shutdown()


def _config(setup: dict, n: int = 2):
    from xrouter.verl_plugin.scripted import replay_rollout_overrides

    overrides = replay_rollout_overrides(setup["rows"][0], setup["tools"], setup["model"], n)
    return compose_config([*overrides, "xrouter.cost_lambda=50.0"])


@pytest.fixture(scope="module")
def rollout(ray_cluster, rb_setup):
    """Config, reward loop and agent loop managers (real verl classes on Ray) with the scripted policy."""
    from verl.experimental.agent_loop import AgentLoopManager
    from verl.experimental.reward_loop import RewardLoopManager

    from xrouter.verl_plugin.scripted import ScriptedPolicyServer, call, select

    cfg = _config(rb_setup)
    # Every row: call the first model offered in the row's pool, then select its answer.
    policy = ScriptedPolicyServer(str(rb_setup["model"]), {}, default=[call("{tool0}"), select("{tool0}")])
    rewards = RewardLoopManager(cfg)
    manager = AgentLoopManager.create(
        config=cfg, llm_client=policy, reward_loop_worker_handles=rewards.reward_loop_worker_handles
    )
    return cfg, manager


def _batch(cfg, model: Path, validate: bool):
    from transformers import AutoTokenizer
    from verl import DataProto
    from verl.trainer.ppo.utils import create_rl_dataset
    from verl.utils.dataset.rl_dataset import collate_fn

    tok = AutoTokenizer.from_pretrained(str(model))
    dataset = create_rl_dataset(cfg.data.train_files, cfg.data, tok, None, is_train=not validate)
    batch = DataProto.from_single_dict(collate_fn([dataset[i] for i in range(3)]))
    batch.non_tensor_batch["uid"] = np.array([str(uuid.uuid4()) for _ in range(len(batch))], dtype=object)
    if not validate:
        batch = batch.repeat(repeat_times=cfg.actor_rollout_ref.rollout.n, interleave=True)
    batch.meta_info["validate"] = validate
    return batch


def _check_rewards(cfg, batch, out) -> None:
    """Every streamed reward equals compute_score on the same trajectory with the configured kwargs."""
    from xrouter.reward import compute_score

    scores = out.batch["rm_scores"].sum(-1).tolist()
    nt = out.non_tensor_batch
    assert len(scores) == len(batch)
    assert {"acc", "score", "cost_usd", "xrouter_cost_usd"} <= set(nt)  # acc: the DAPO filter metric
    kwargs = dict(cfg.reward.custom_reward_function.reward_kwargs)
    assert kwargs["cost_lambda"] == 50.0
    for i, score in enumerate(scores):
        assert nt["xrouter_finish"][i] == "select_response"
        assert nt["xrouter_num_calls"][i] == 1
        assert nt["cost_usd"][i] == pytest.approx(nt["xrouter_cost_usd"][i]) and nt["cost_usd"][i] > 0
        extra = dict(batch.non_tensor_batch["extra_info"][i])
        extra.update({k: nt[k][i] for k in nt if k.startswith("xrouter_")})
        gt = batch.non_tensor_batch["reward_model"][i]["ground_truth"]
        expected = compute_score(batch.non_tensor_batch["data_source"][i], "", gt, extra, **kwargs)
        assert score == pytest.approx(expected["score"], abs=1e-6)
        assert nt["acc"][i] == pytest.approx(expected["acc"])


def test_agent_loop_manager_streams_rewards_equal_to_compute_score(rollout, rb_setup):
    """Training rollout + streaming reward on preprocessed rows: rm_scores == compute_score, cost and acc logged."""
    cfg, manager = rollout
    batch = _batch(cfg, rb_setup["model"], validate=False)
    out = manager.generate_sequences(batch)
    assert len(out) == 6
    _check_rewards(cfg, batch, out)


def test_validation_rollouts_use_the_same_lambda(rollout, rb_setup):
    """Validation rollouts are scored by the same reward workers, with the same λ, K and cost_max."""
    cfg, manager = rollout
    batch = _batch(cfg, rb_setup["model"], validate=True)
    out = manager.generate_sequences(batch)
    _check_rewards(cfg, batch, out)
