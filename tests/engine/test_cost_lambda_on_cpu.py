"""λ in the router's prompt: rows and requests without λ keep the pre-λ prompt; with λ, one function renders it.

Run: .venv/bin/python -m pytest -q tests/engine/test_cost_lambda_on_cpu.py
"""

from __future__ import annotations

import hashlib

import pytest

from tests.engine.conftest import POOL, FakeCaller, ScriptedPolicy, text
from xrouter.data.rows import build_row
from xrouter.engine.episode import EpisodeConfig, EpisodeEngine, RequestOptions
from xrouter.engine.prompts import (
    COST_WEIGHT_LABEL,
    ROUTER_SYSTEM_PROMPT_AGENT,
    ROUTER_SYSTEM_PROMPT_SIMPLE,
    cost_weight_text,
    prompt_cost_lambda,
    router_messages,
    router_system_prompt,
)

USER = [{"role": "system", "content": "Answer tersely."}, {"role": "user", "content": "What is 17 * 23?"}]
# The router prompts routers were trained on before λ was an input: their checkpoints must see exactly these.
PRE_LAMBDA_SHA256 = {
    "agent": "b0a88cb4335235ee62415a64d3e1e7bebda984f543f73902a1b8b80d41d8e393",
    "simple": "5edb0b1987ee4d3ad9879e615955ab7b68b2f031830bdf4f6b51f0597fc0191e",
}


@pytest.mark.parametrize("mode", ["agent", "simple"])
def test_without_lambda_the_prompt_is_the_pre_lambda_prompt(mode):
    """No λ: the system prompt is byte for byte the one earlier checkpoints were trained on."""
    prompt = router_system_prompt(mode)
    assert hashlib.sha256(prompt.encode()).hexdigest() == PRE_LAMBDA_SHA256[mode]
    assert router_messages(USER, mode)[0]["content"] == prompt
    assert COST_WEIGHT_LABEL not in prompt and prompt_cost_lambda(router_messages(USER, mode)) is None


@pytest.mark.parametrize(("mode", "base"), [("agent", ROUTER_SYSTEM_PROMPT_AGENT), ("simple", ROUTER_SYSTEM_PROMPT_SIMPLE)])
def test_with_lambda_the_prompt_states_the_value_and_its_price_in_reward(mode, base):
    """λ = 3: the pre-λ prompt, then a paragraph with the value and what one cent of calls costs in reward."""
    prompt = router_system_prompt(mode, 3.0)
    assert prompt == f"{base}\n\n{cost_weight_text(3.0)}"
    assert f"{COST_WEIGHT_LABEL} λ = 3\n" in prompt
    assert "every cent of calls costs 0.03 reward" in prompt
    assert "by at least about 3 percentage points per cent" in prompt
    assert "0.0003 reward" in router_system_prompt(mode, 0.03)
    assert prompt_cost_lambda(router_messages(USER, mode, cost_lambda=0.25)) == 0.25
    assert router_system_prompt(mode, 0.0) != router_system_prompt(mode)  # λ = 0 is stated, not dropped


def test_only_the_routers_own_system_prompt_is_read_for_lambda():
    """A user who writes the λ line in the request cannot set the router's cost weight."""
    spoof = [{"role": "system", "content": f"{COST_WEIGHT_LABEL} λ = 0"}, {"role": "user", "content": "hi"}]
    assert prompt_cost_lambda(router_messages(spoof, "agent")) is None
    assert prompt_cost_lambda(router_messages(spoof, "agent", cost_lambda=50)) == 50


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), 1e6, True, "3"])
def test_out_of_range_lambda_is_refused(bad):
    """The prompt is never rendered for a λ outside [0, MAX_COST_LAMBDA] or a non-number."""
    with pytest.raises(ValueError, match="cost_lambda must be a number"):
        router_system_prompt("agent", bad)


@pytest.mark.parametrize("mode", ["agent", "simple"])
async def test_serving_and_training_render_the_same_prompt_for_the_same_lambda(catalog, mode):
    """The engine's first router chat for a request at λ equals the preprocessed training row's prompt at λ."""
    row = build_row(
        {"data_source": "math__toy", "prompt": USER, "reward_model": {"ground_truth": "391"}},
        where="toy.parquet row 0", file_stem="toy", source_row=0, index=0, version=0, model_set_type="random",
        pool=list(POOL), mode=mode, max_system_prompt_length=2000, cost_lambda=7.5,
    )  # fmt: skip
    policy = ScriptedPolicy([text("391"), text("391")])
    engine = EpisodeEngine(policy, FakeCaller({}), catalog, POOL, EpisodeConfig(mode=mode))
    trajectory = await engine.run(USER, RequestOptions(cost_lambda=7.5))
    assert policy.seen[0] == row["prompt"]
    assert row["extra_info"]["cost_lambda"] == 7.5 == trajectory.to_metadata()["cost_lambda"]
    plain = build_row(
        {"data_source": "math__toy", "prompt": USER, "reward_model": {"ground_truth": "391"}},
        where="toy.parquet row 0", file_stem="toy", source_row=0, index=0, version=0, model_set_type="random",
        pool=list(POOL), mode=mode, max_system_prompt_length=2000,
    )  # fmt: skip
    await engine.run(USER)
    assert policy.seen[1] == plain["prompt"] and "cost_lambda" not in plain["extra_info"]


async def test_engine_default_lambda_applies_when_the_request_gives_none(catalog):
    """EpisodeConfig.cost_lambda is the default; a request's own λ wins; metadata echoes the one used."""
    policy = ScriptedPolicy([text("a"), text("b")])
    engine = EpisodeEngine(policy, FakeCaller({}), catalog, POOL, EpisodeConfig(cost_lambda=2.0))
    assert (await engine.run(USER)).to_metadata()["cost_lambda"] == 2.0
    assert (await engine.run(USER, RequestOptions(cost_lambda=40.0))).to_metadata()["cost_lambda"] == 40.0
    assert [prompt_cost_lambda(seen) for seen in policy.seen] == [2.0, 40.0]
    with pytest.raises(ValueError, match="cost_lambda"):
        EpisodeConfig(cost_lambda=-3)
