"""Malformed router and target answers map to defined outcomes, and every paid call stays accounted for."""

from __future__ import annotations

import json

import pytest

from tests.faults.conftest import TARGET_COST, TURN_COST, error_of, meta_of

ROUTER_FAULTS = [
    "message_string",
    "tool_calls_strings",
    "usage_list",
    "usage_bad_tokens",
    "choice_string",
    "content_number",
    "no_choices",
    "array",
    "malformed",
    "partial",
    "cut",
    "status:500",
]


@pytest.mark.parametrize("fault", ROUTER_FAULTS)
def test_malformed_router_answer_after_a_paid_call_is_502_and_keeps_the_call(served, fault):
    """Turn 1 pays for a target call, turn 2 is broken: 502 with the reason; ledger and /metrics keep the call."""
    before = served.metrics()
    response = served.post(f"Broken router turn [[r1=call:fault-a r2={fault} key=router-{fault}]]")
    error = error_of(response, 502, "router_upstream_error")
    assert error["message"].startswith("router model failed") and error["type"] == "upstream_error"
    line = served.request_line(response)
    assert line is not None and line["success"] is False and line["strategy"] == "error"
    assert [c["model"] for c in line["calls"]] == ["fault-a"] and line["calls"][0]["success"]
    assert line["target_cost_usd"] == pytest.approx(TARGET_COST) and line["cost_usd"] == pytest.approx(TURN_COST)
    after = served.metrics()
    assert after['xrouter_cost_usd_total{kind="targets"}'] - before['xrouter_cost_usd_total{kind="targets"}'] == (
        pytest.approx(TARGET_COST, abs=1e-8)  # /metrics prints 9 decimals
    )
    calls = 'xrouter_target_calls_total{model="fault-a",success="true"}'
    assert after[calls] - before.get(calls, 0.0) == 1
    assert after['xrouter_errors_total{code="router_upstream_error"}'] >= 1
    served.assert_still_serving()


@pytest.mark.parametrize("fault", ["message_string", "usage_list", "tool_calls_strings"])
def test_malformed_first_router_turn_is_502_not_500(served, fault):
    """A broken first turn (nothing paid yet but the router) is a 502, ledgered with the request."""
    response = served.post(f"Broken first turn [[r1={fault}]]")
    error_of(response, 502, "router_upstream_error")
    line = served.request_line(response)
    assert line is not None and line["calls"] == [] and line["success"] is False


FAILED_TARGET = [
    ("malformed", "bad_response"),
    ("partial", "bad_response"),
    ("array", "bad_response"),
    ("no_choices", "bad_response"),
    ("choice_string", "bad_response"),
    ("message_string", "bad_response"),
    ("content_number", "bad_response"),
    ("cut", "connection"),
    ("drip:5", "timeout"),
    ("hang:5", "timeout"),
    ("status:500", "server"),
    ("status:429", "rate_limit"),
    ("status:404", "not_found"),
    ("status:401", "auth"),
]


@pytest.mark.parametrize(("fault", "kind"), FAILED_TARGET)
def test_broken_target_answer_is_a_failed_call_the_router_reads(served, fault, kind):
    """Each broken target answer is a failed call with its kind; the router reads it and answers itself."""
    marker = f"target-{fault}"
    response = served.post(f"Broken target [[r1=call:fault-a target={fault} key={marker}]]")
    meta = meta_of(response)
    call = meta["call_history"][0]
    assert call["executed"] and not call["success"] and call["error_kind"] == kind and call["cost_usd"] == 0
    assert meta["routing_strategy"] == "synthesized_response" and meta["turns_used"] == 2
    turn2 = [b for role, b, _ in served.upstream_app.state.seen if role == "router" and marker in str(b)][-1]
    tool_message = [m for m in turn2["messages"] if m["role"] == "tool"][0]
    assert tool_message["content"].startswith(f"[error] call to fault-a failed ({kind})")
    line = served.request_line(response)
    assert line["success"] and line["calls"][0]["success"] is False and line["target_cost_usd"] == 0
    served.assert_still_serving()


def test_nan_in_a_target_body_never_reaches_the_client_as_bare_nan(served):
    """A target body with a bare NaN: whatever the call's fate, the answer is strict JSON."""
    response = served.post("NaN target [[r1=call:fault-a target=nan]]")
    assert response.status_code == 200

    def refuse(constant: str) -> None:
        raise ValueError(f"bare {constant} in the response")

    json.loads(response.text, parse_constant=refuse)
