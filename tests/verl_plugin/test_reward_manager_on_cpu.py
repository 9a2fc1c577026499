"""`xrouter_dapo` reward-loop manager: trajectory fields reach compute_score, DAPO overlong shaping kept.

Run: .venv/bin/python -m pytest -q tests/verl_plugin/test_reward_manager_on_cpu.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xrouter.reward import compute_score

KWARGS = {"shaping": "xrouter", "cost_lambda": 3.0, "reward_K": 1.0, "cost_max": 0.8}
TRAJECTORY = {
    "xrouter_calls": [{"model": "strong-c", "tool_name": "call_strong_c", "cost_usd": 0.05, "success": True}],
    "xrouter_cost_usd": 0.05,
    "xrouter_num_turns": 2,
    "xrouter_valid": True,
    "xrouter_finish": "select_response",
    "xrouter_answer": "The answer is Paris",
    "xrouter_mode": "agent",
}


def manager(tiny_model: Path, overlong: dict | None = None):
    """The registered xrouter_dapo manager, built the way verl's RewardLoopWorker builds it."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.trainer.ppo.reward import load_reward_manager

    reward_kwargs = {"max_resp_len": 32}
    if overlong:
        reward_kwargs["overlong_buffer_cfg"] = overlong
    cfg = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {
                    "path": "pkg://xrouter.reward",
                    "name": "compute_score",
                    "reward_kwargs": KWARGS,
                },
                "reward_manager": {"source": "register", "name": "xrouter_dapo"},
                "reward_kwargs": reward_kwargs,
                "sandbox_fusion": None,
            }
        }
    )
    return load_reward_manager(cfg, AutoTokenizer.from_pretrained(str(tiny_model))), cfg


def one_trajectory(tiny_model: Path, response: str, tool_extra_fields: dict | None):
    """A one-row DataProto as the streaming reward path sends it."""
    import torch
    from tensordict import TensorDict
    from transformers import AutoTokenizer
    from verl import DataProto

    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    p = torch.tensor(tok.encode("What is the capital of France?"))
    r = torch.tensor(tok.encode(response))
    nt = {
        "data_source": np.array(["qa"], dtype=object),
        "reward_model": np.array([{"ground_truth": "Paris"}], dtype=object),
        "extra_info": np.array([{"index": 0, "query_id": "q-cap"}], dtype=object),
        "__num_turns__": np.array([3]),
    }
    if tool_extra_fields is not None:
        nt["tool_extra_fields"] = np.array([tool_extra_fields], dtype=object)
    ids = torch.cat([p, r])
    batch = TensorDict(
        {
            "prompts": p[None],
            "responses": r[None],
            "input_ids": ids[None],
            "attention_mask": torch.ones_like(ids)[None],
        },
        batch_size=1,
    )
    return DataProto(batch=batch, non_tensor_batch=nt)


async def test_compute_score_sees_trajectory_cost(tiny_model):
    """The reward equals compute_score on extra_info + trajectory fields; the row's extra_info is untouched."""
    rm, _ = manager(tiny_model)
    data = one_trajectory(tiny_model, "garbage text", TRAJECTORY)
    row_extra = data.non_tensor_batch["extra_info"][0]
    result = await rm.run_single(data)
    expected = compute_score("qa", "garbage text", "Paris", {"index": 0, "query_id": "q-cap", **TRAJECTORY}, **KWARGS)
    assert result["reward_score"] == pytest.approx(expected["score"]) == pytest.approx(1.0 - 3.0 * 0.05)
    info = result["reward_extra_info"]
    assert info["cost_usd"] == pytest.approx(0.05) and info["acc"] == 1.0 and info["finish_select_response"] == 1.0
    assert "xrouter_cost_usd" not in row_extra  # the shared row dict was not mutated


async def test_without_trajectory_fields_the_response_text_is_scored(tiny_model):
    """No agent-loop fields: no calls, cost 0, and the decoded response is the answer."""
    rm, _ = manager(tiny_model)
    result = await rm.run_single(one_trajectory(tiny_model, "Paris", None))
    assert result["reward_extra_info"]["cost_usd"] == 0.0
    assert result["reward_extra_info"]["num_calls"] == 0.0


async def test_dapo_overlong_penalty_is_kept(tiny_model):
    """verl's DAPO overlong penalty still applies on top of the xrouter reward."""
    overlong = {"enable": True, "len": 4, "penalty_factor": 1.0, "log": True}
    rm, _ = manager(tiny_model, overlong)
    long_response = "Paris " * 40
    result = await rm.run_single(one_trajectory(tiny_model, long_response, TRAJECTORY))
    info = result["reward_extra_info"]
    penalty = float(info["overlong_reward"])
    assert bool(info["overlong"]) and penalty < 0
    assert float(result["reward_score"]) == pytest.approx(1.0 - 3.0 * 0.05 + penalty)


async def test_the_rows_own_lambda_is_used_and_the_config_lambda_otherwise(tiny_model):
    """One trajectory, rows at λ = 1 and λ = 20 and a row without λ: the rewards of compute_score at those λs."""
    rm, _ = manager(tiny_model)
    rewards = {}
    for lam in (1.0, 20.0, None):
        data = one_trajectory(tiny_model, "garbage text", TRAJECTORY)
        if lam is not None:
            data.non_tensor_batch["extra_info"] = np.array([{"index": 0, "query_id": "q-cap", "cost_lambda": lam}],
                                                           dtype=object)  # fmt: skip
        result = await rm.run_single(data)
        rewards[lam] = (result["reward_score"], result["reward_extra_info"]["cost_lambda"])
    for lam, configured in ((1.0, 1.0), (20.0, 20.0), (None, 3.0)):
        expected = compute_score("qa", "", "Paris", TRAJECTORY, **{**KWARGS, "cost_lambda": configured})
        assert rewards[lam] == (pytest.approx(expected["score"]), configured)
    assert rewards[1.0][0] == pytest.approx(0.95) and rewards[20.0][0] == pytest.approx(0.2)
