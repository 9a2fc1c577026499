"""The episode loop: strategies, the defined outcome of every rule break, limits, budget and records."""

from __future__ import annotations

import json

import pytest

from tests.engine.conftest import POOL, FakeCaller, ScriptedPolicy, calls, text
from xrouter.engine.episode import EpisodeConfig, EpisodeEngine, RequestOptions
from xrouter.engine.prompts import ONE_STEP_SELECT_TEXT, router_messages
from xrouter.engine.rules import final_outcome

USER = [{"role": "system", "content": "Answer tersely."}, {"role": "user", "content": "What is 17 * 23?"}]
PROMPT = {"optimized_system_prompt": "You are a careful calculator."}


def engine(catalog, steps, caller=None, **config) -> tuple[EpisodeEngine, ScriptedPolicy, FakeCaller]:
    policy = ScriptedPolicy(steps)
    caller = caller or FakeCaller({"gpt-5-mini": "391", "gpt-4.1-nano": "390", "gpt-5": "391"})
    return EpisodeEngine(policy, caller, catalog, POOL, EpisodeConfig(**config)), policy, caller


def last_tool_messages(policy: ScriptedPolicy) -> list[str]:
    return [m["content"] for m in policy.seen[-1] if m["role"] == "tool"]


async def test_direct_answer_strips_think_and_calls_nothing(catalog):
    """A text turn is the answer (think block removed); no model is called."""
    eng, policy, caller = engine(catalog, [text("<think>easy</think>391")])
    traj = await eng.run(USER)
    assert traj.answer == "391" and traj.strategy == "direct_response"
    assert traj.outcome.valid and caller.received == []
    assert policy.seen[0] == router_messages(USER, "agent")
    assert traj.to_metadata()["model_used"] == "scripted-router"


async def test_one_call_then_select_returns_that_answer(catalog):
    """call -> select_response returns the model's text verbatim, with its cost and the router's."""
    eng, policy, caller = engine(
        catalog,
        [calls(("call_gpt_5_mini", PROMPT)), calls(("select_response", {"model_call_name": "call_gpt_5_mini"}))],
    )
    traj = await eng.run(USER)
    meta = traj.to_metadata()
    assert traj.answer == "391" and traj.strategy == "select_response"
    assert meta["model_used"] == "gpt-5-mini" and meta["models_called"] == ["gpt-5-mini"]
    assert meta["target_models_cost"] == pytest.approx(0.002)
    assert meta["router_cost"] == pytest.approx(0.002) and meta["total_cost"] == pytest.approx(0.004)
    assert last_tool_messages(policy) == ["391"]
    sent = caller.received[0]["messages"]
    assert sent[0] == {"role": "system", "content": "You are a careful calculator.\n\nAnswer tersely."}
    assert sent[1:] == [{"role": "user", "content": "What is 17 * 23?"}]


async def test_parallel_calls_run_concurrently_and_summary_is_valid(catalog):
    """Three calls of one turn are in flight together; a text turn after them is a synthesized answer."""
    caller = FakeCaller({"gpt-5-mini": "391", "gpt-4.1-nano": "390", "gpt-5": "391"}, delay_s=0.05)
    steps = [calls(("call_gpt_5_mini", PROMPT), ("call_gpt_4_1_nano", PROMPT), ("call_gpt_5", PROMPT)), text("391")]
    eng, policy, _ = engine(catalog, steps, caller)
    traj = await eng.run(USER)
    assert caller.max_in_flight == 3
    assert traj.strategy == "synthesized_response" and traj.outcome.valid
    assert last_tool_messages(policy) == ["391", "390", "391"]
    assert len(traj.to_reward_fields()["xrouter_calls"]) == 3


async def test_model_call_on_last_turn_is_not_run_in_agent_mode(catalog):
    """Agent mode: calls on the last allowed turn are refused; invalid, user gets the newest good answer."""
    steps = [calls(("call_gpt_4_1_nano", PROMPT)), calls(("call_gpt_5", PROMPT))]
    eng, _, caller = engine(catalog, steps, max_turns=2)
    traj = await eng.run(USER)
    assert [r["model"] for r in caller.received] == ["gpt-4.1-nano"]
    refused = traj.turns[-1].calls[0]
    assert refused.error_kind == "last_turn" and not refused.executed
    assert traj.strategy == "max_turns_reached" and not traj.outcome.valid
    assert traj.answer == "390"
    assert traj.to_reward_fields()["xrouter_valid"] is False


async def test_simple_mode_runs_the_call_on_the_last_turn_and_delegates(catalog):
    """Simple mode: a call on the last allowed turn runs and its answer goes to the user."""
    eng, policy, _ = engine(catalog, [calls(("call_gpt_5_mini", PROMPT))], mode="simple", max_turns=1)
    traj = await eng.run(USER)
    assert traj.strategy == "delegate_to_model" and traj.answer == "391" and traj.outcome.valid
    assert "select_response" not in [t["function"]["name"] for t in policy.tools_seen[0]]


async def test_simple_mode_runs_only_the_first_call(catalog):
    """Simple mode delegates to exactly one model per turn; extra calls are refused."""
    steps = [calls(("call_gpt_5_mini", PROMPT), ("call_gpt_5", PROMPT))]
    eng, _, caller = engine(catalog, steps, mode="simple")
    traj = await eng.run(USER)
    assert len(caller.received) == 1 and traj.turns[0].calls[1].error_kind == "simple_one_call"


async def test_unknown_tool_is_refused_and_the_episode_continues(catalog):
    """An unavailable tool is not run; the router reads why and may answer next turn."""
    eng, policy, caller = engine(catalog, [calls(("call_claude_9", PROMPT)), text("391")])
    traj = await eng.run(USER)
    assert caller.received == [] and traj.turns[0].calls[0].error_kind == "unavailable_tool"
    assert "not available" in last_tool_messages(policy)[0] and "call_gpt_5_mini" in last_tool_messages(policy)[0]
    assert traj.outcome.valid and traj.answer == "391"


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        ('{"optimized_system_prompt": "x"', "not valid JSON"),
        ('["x"]', "JSON object"),
        ("{}", "optimized_system_prompt is required"),
        ('{"optimized_system_prompt": "x", "temperature": "hot"}', "temperature"),
        ('{"optimized_system_prompt": "x", "max_tokens": -4}', "max_tokens"),
    ],
)
async def test_bad_arguments_are_refused_with_the_reason(catalog, arguments, fragment):
    """Broken or ill-typed arguments are not run; the router reads which field is wrong."""
    eng, policy, caller = engine(catalog, [calls(("call_gpt_5_mini", arguments)), text("391")])
    traj = await eng.run(USER)
    assert caller.received == [] and traj.turns[0].calls[0].error_kind == "bad_arguments"
    assert fragment in last_tool_messages(policy)[0]


async def test_select_of_a_call_that_never_happened_is_refused(catalog):
    """select_response naming an uncalled tool fails; ending on it is invalid."""
    steps = [calls(("call_gpt_5_mini", PROMPT)), calls(("select_response", {"model_call_name": "call_gpt_5"}))]
    eng, policy, _ = engine(catalog, steps, max_turns=2)
    traj = await eng.run(USER)
    select = traj.turns[-1].calls[0]
    assert select.error_kind == "select_unknown_call" and "call_gpt_5_mini" in select.output
    assert not traj.outcome.valid and traj.outcome.finish == "no_answer"


async def test_select_mixed_with_calls_is_refused(catalog):
    """select_response must be alone in its turn."""
    steps = [
        calls(("call_gpt_5_mini", PROMPT)),
        calls(("select_response", {"model_call_name": "call_gpt_5_mini"}), ("call_gpt_5", PROMPT)),
        text("391"),
    ]
    eng, _, _ = engine(catalog, steps)
    traj = await eng.run(USER)
    assert traj.turns[1].calls[0].error_kind == "select_not_alone" and traj.answer == "391"


async def test_failed_target_costs_nothing_and_router_reads_the_error(catalog):
    """A provider failure comes back as text for the router; its cost is 0; the router can recover."""
    caller = FakeCaller({"gpt-5-mini": "FAIL", "gpt-4.1-nano": "390"})
    steps = [calls(("call_gpt_5_mini", PROMPT)), calls(("call_gpt_4_1_nano", PROMPT)), text("390")]
    eng, policy, _ = engine(catalog, steps, caller)
    traj = await eng.run(USER)
    failed = traj.turns[0].calls[0]
    assert failed.executed and not failed.success and failed.cost_usd == 0.0 and failed.error_kind == "server"
    assert policy.seen[1][-1]["content"].startswith("[error] call to gpt-5-mini failed (server)")
    assert traj.to_reward_fields()["xrouter_cost_usd"] == pytest.approx(0.002)


async def test_target_that_ignores_its_timeout_is_cut_off(catalog):
    """A caller that overruns its timeout becomes a failed call of kind timeout."""
    caller = FakeCaller({"gpt-5-mini": "SLOW"})
    eng, policy, _ = engine(catalog, [calls(("call_gpt_5_mini", PROMPT)), text("?")], caller, target_timeout_s=0.1)
    traj = await eng.run(USER)
    call = traj.turns[0].calls[0]
    assert call.error_kind == "timeout" and not call.success and call.cost_usd == 0.0
    assert "timeout" in last_tool_messages(policy)[0]


async def test_budget_refuses_calls_whose_worst_case_exceeds_what_is_left(catalog):
    """gpt-5 with 8192 output tokens cannot fit in $0.01; gpt-4.1-nano with 100 tokens can."""
    steps = [calls(("call_gpt_5", PROMPT), ("call_gpt_4_1_nano", {**PROMPT, "max_tokens": 100})), text("390")]
    eng, policy, caller = engine(catalog, steps)
    traj = await eng.run(USER, RequestOptions(max_cost_usd=0.01))
    refused, accepted = traj.turns[0].calls
    assert refused.error_kind == "budget" and "exceeds the remaining budget" in refused.output
    assert accepted.success and [r["model"] for r in caller.received] == ["gpt-4.1-nano"]
    assert caller.received[0]["max_tokens"] == 100


async def test_call_limits_per_turn_and_per_request(catalog):
    """Calls beyond max_calls_per_turn or max_total_calls are refused, not run."""
    steps = [
        calls(("call_gpt_5_mini", PROMPT), ("call_gpt_5", PROMPT)),
        calls(("call_gpt_4_1_nano", PROMPT)),
        text("x"),
    ]
    eng, _, caller = engine(catalog, steps, max_calls_per_turn=1, max_total_calls=1, max_turns=3)
    traj = await eng.run(USER)
    assert traj.turns[0].calls[1].error_kind == "turn_call_limit"
    assert traj.turns[1].calls[0].error_kind == "total_call_limit"
    assert len(caller.received) == 1


async def test_request_temperature_and_max_tokens_reach_the_target(catalog):
    """The request's temperature is the default; its max_tokens caps the router's budget."""
    eng, _, caller = engine(catalog, [calls(("call_gpt_4_1_nano", {**PROMPT, "max_tokens": 5000})), text("x")])
    await eng.run(USER, RequestOptions(temperature=0.3, max_tokens=64))
    assert caller.received[0]["temperature"] == 0.3 and caller.received[0]["max_tokens"] == 64


async def test_reward_fields_agree_with_final_outcome(catalog):
    """to_reward_fields carries the contract keys, and validity equals final_outcome on the turns."""
    steps = [calls(("call_gpt_5_mini", PROMPT)), calls(("select_response", {"model_call_name": "call_gpt_5_mini"}))]
    eng, _, _ = engine(catalog, steps)
    traj = await eng.run(USER)
    fields = traj.to_reward_fields()
    assert set(fields) == {
        "xrouter_calls",
        "xrouter_cost_usd",
        "xrouter_num_turns",
        "xrouter_valid",
        "xrouter_finish",
        "xrouter_answer",
        "xrouter_answer_model",
        "xrouter_mode",
    }
    views = [t.view(t.text) for t in traj.turns]
    assert fields["xrouter_valid"] == final_outcome(views, "agent").valid is True
    assert fields["xrouter_answer"] == "391" and fields["xrouter_num_turns"] == 2
    assert fields["xrouter_answer_model"] == "gpt-5-mini"
    json.dumps(traj.to_metadata())  # the metadata is JSON-serialisable


async def test_select_of_a_failed_call_is_refused_listing_the_successful_ones(catalog):
    """select_response naming a call that failed is refused; the router reads which calls succeeded."""
    caller = FakeCaller({"gpt-5-mini": "FAIL", "gpt-4.1-nano": "390"})
    steps = [
        calls(("call_gpt_5_mini", PROMPT), ("call_gpt_4_1_nano", PROMPT)),
        calls(("select_response", {"model_call_name": "call_gpt_5_mini"})),
        calls(("select_response", {"model_call_name": "call_gpt_4_1_nano"})),
    ]
    eng, policy, _ = engine(catalog, steps, caller)
    traj = await eng.run(USER)
    refused = traj.turns[1].calls[0]
    assert refused.error_kind == "select_unknown_call" and not refused.executed
    assert "successful: call_gpt_4_1_nano" in last_tool_messages(policy)[-1]
    assert traj.strategy == "select_response" and traj.answer == "390" and traj.outcome.valid


async def test_select_response_in_simple_mode_is_an_unavailable_tool(catalog):
    """Simple mode offers no select_response; calling it is refused like any unknown tool."""
    steps = [calls(("select_response", {"model_call_name": "call_gpt_5_mini"})), text("391")]
    eng, policy, caller = engine(catalog, steps, mode="simple")
    traj = await eng.run(USER)
    assert traj.turns[0].calls[0].error_kind == "unavailable_tool" and caller.received == []
    assert "select_response" not in last_tool_messages(policy)[0].split("offered:")[1]
    assert traj.strategy == "direct_response" and traj.answer == "391"


async def test_unpriced_target_is_refused_under_a_budget_and_flagged_without_one(catalog, tmp_path):
    """A model without a price cannot be checked against a budget; without a budget it runs, flagged unpriced."""
    from xrouter.catalog import load_catalog

    extra = tmp_path / "unpriced.yaml"
    extra.write_text(
        "models:\n  - id: mystery-model\n    litellm_model: openai/mystery\n    provider: local\n    tier: budget\n"
        "    input_usd_per_mtok: null\n    output_usd_per_mtok: null\n    context_window: 32768\n"
        "    max_output_tokens: 4096\n"
    )
    merged = load_catalog(extra, use_env=False)
    caller = FakeCaller({"mystery-model": "42"}, cost_usd=None)
    steps = [calls(("call_mystery_model", PROMPT)), text("42")]
    budgeted = EpisodeEngine(ScriptedPolicy(steps), caller, merged, ["mystery-model"], EpisodeConfig())
    traj = await budgeted.run(USER, RequestOptions(max_cost_usd=1.0))
    assert traj.turns[0].calls[0].error_kind == "budget" and "no known price" in traj.turns[0].calls[0].output
    assert caller.received == []
    free = EpisodeEngine(ScriptedPolicy(steps), caller, merged, ["mystery-model"], EpisodeConfig())
    meta = (await free.run(USER)).to_metadata()
    assert meta["unpriced_calls"] == 1 and meta["call_history"][0]["priced"] is False
    assert meta["target_models_cost"] == 0.0


async def test_failed_delegation_in_simple_mode_lets_the_router_try_again(catalog):
    """Simple mode: a failed delegation before the last turn is an error message; the next delegation answers."""
    caller = FakeCaller({"gpt-5-mini": "FAIL", "gpt-4.1-nano": "390"})
    steps = [calls(("call_gpt_5_mini", PROMPT)), calls(("call_gpt_4_1_nano", PROMPT))]
    eng, policy, _ = engine(catalog, steps, caller, mode="simple", max_turns=2)
    traj = await eng.run(USER)
    assert last_tool_messages(policy)[0].startswith("[error] call to gpt-5-mini failed (server)")
    assert traj.strategy == "delegate_to_model" and traj.answer == "390" and traj.outcome.valid
    assert traj.to_metadata()["model_used"] == "gpt-4.1-nano" and traj.to_metadata()["turns_used"] == 2


async def test_empty_router_text_is_no_answer_and_returns_the_newest_model_answer(catalog):
    """A last turn with only a think block is invalid (no_answer); the user still gets the model's answer."""
    steps = [calls(("call_gpt_5_mini", PROMPT)), text("<think>hmm</think>")]
    eng, _, _ = engine(catalog, steps)
    traj = await eng.run(USER)
    assert traj.strategy == "no_answer" and not traj.outcome.valid and traj.answer == "391"


async def test_turns_out_keeps_the_turns_of_an_episode_whose_router_fails(catalog):
    """A policy failure on turn 2 propagates; the caller's turns_out still holds turn 1 and its cost."""
    from xrouter.engine.policy import RouterPolicyError

    def fail(messages):
        raise RouterPolicyError("router endpoint answered HTTP 500")

    eng, _, _ = engine(catalog, [calls(("call_gpt_5_mini", PROMPT)), fail])
    turns: list = []
    with pytest.raises(RouterPolicyError):
        await eng.run(USER, turns_out=turns)
    assert len(turns) == 1 and turns[0].calls[0].success and turns[0].calls[0].cost_usd == pytest.approx(0.002)


async def test_one_step_select_calls_the_named_model_and_returns_its_answer(catalog):
    """With one_step_select a select naming an uncalled model runs it (even on the last turn) and returns it."""
    select = {"model_call_name": "call_gpt_5", "optimized_system_prompt": "Be exact.", "max_tokens": 64}
    eng, policy, caller = engine(catalog, [calls(("select_response", select))], max_turns=1, one_step_select=True)
    traj = await eng.run(USER)
    assert traj.outcome.valid and traj.answer == "391" and traj.strategy == "select_response"
    assert [r["model"] for r in caller.received] == ["gpt-5"] and caller.received[0]["max_tokens"] == 64
    assert caller.received[0]["messages"][0] == {"role": "system", "content": "Be exact.\n\nAnswer tersely."}
    assert traj.to_metadata()["model_used"] == "gpt-5" and traj.target_cost_usd == pytest.approx(0.002)
    assert ONE_STEP_SELECT_TEXT in policy.seen[0][0]["content"]  # the prompt says a select may do this
    tool = next(t for t in policy.tools_seen[0] if t["function"]["name"] == "select_response")
    assert "optimized_system_prompt" in tool["function"]["parameters"]["properties"]


async def test_one_step_select_of_an_earlier_call_still_returns_that_call(catalog):
    """A select naming a model already called returns that answer; nothing is called again."""
    steps = [calls(("call_gpt_5_mini", PROMPT)), calls(("select_response", {"model_call_name": "call_gpt_5_mini"}))]
    eng, _, caller = engine(catalog, steps, one_step_select=True)
    traj = await eng.run(USER)
    assert traj.answer == "391" and [r["model"] for r in caller.received] == ["gpt-5-mini"]


async def test_one_step_select_of_a_failing_model_is_an_ordinary_failed_call(catalog):
    """The router reads the failure and may answer otherwise; a select of a non-model tool is refused."""
    steps = [calls(("select_response", {"model_call_name": "call_gpt_5"})), text("I will answer: 391")]
    eng, policy, _ = engine(catalog, steps, caller=FakeCaller({"gpt-5": "FAIL"}), one_step_select=True)
    traj = await eng.run(USER)
    assert traj.turns[0].calls[0].executed and not traj.turns[0].calls[0].success
    assert "failed" in last_tool_messages(policy)[0] and traj.answer == "I will answer: 391"
    eng, _, caller = engine(
        catalog, [calls(("select_response", {"model_call_name": "call_nothing"}))], max_turns=1, one_step_select=True
    )
    traj = await eng.run(USER)
    assert traj.turns[0].calls[0].error_kind == "select_unknown_call" and caller.received == []
