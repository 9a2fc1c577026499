"""Every row of the defined-outcomes table, through real HTTP against the fault upstream.

Each case asserts the HTTP status and body shape, that the answer came in bounded time, what the ledger
recorded for the request, and that the server answers the next request normally.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.faults.conftest import Served, error_of, meta_of

# (case, server, user text with directives, extra request fields)
ROWS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("last_turn_agent", "agent", "[[r1=call:fault-a r2=call:fault-b r3=call:fault-a]]", {}),
    ("last_turn_simple_runs", "simple", "[[r1=call:fault-a target.fault-a=status:400 r2=call:fault-b]]", {}),
    ("unavailable_tool", "agent", "[[r1=tool:call_nowhere]]", {}),
    ("bad_arguments", "agent", "[[r1=args:fault-a]]", {}),
    ("select_unknown_call", "agent", "[[r1=select:fault-b]]", {}),
    ("select_not_alone", "agent", "[[r1=both:fault-a]]", {}),
    ("target_failure", "agent", "[[r1=call:fault-a target=status:500]]", {}),
    ("target_timeout", "agent", "[[r1=call:fault-a target=hang:5]]", {}),
    ("budget_worst_case", "agent", "[[r1=call:fault-a]]", {"max_cost_usd": 0.0002}),
    ("budget_unpriced", "agent", "[[r1=call:fault-free]]", {"max_cost_usd": 1.0}),
    ("call_limits", "limits", "[[r1=call:fault-a,fault-b,fault-a r2=call:fault-a,fault-b r3=select:fault-a]]", {}),
    ("simple_one_call", "simple", "[[r1=call:fault-a,fault-b]]", {}),
    ("failed_delegation_then_answer", "simple", "[[r1=call:fault-a target=status:500 r2=text]]", {}),
    ("router_down", "down", "[[r1=text]]", {}),
    ("router_http_error", "agent", "[[r1=status:503]]", {}),
    ("router_malformed", "agent", "[[r1=malformed]]", {}),
    ("episode_timeout", "agent", "[[r1=slow:3.5]]", {}),
]


@pytest.fixture(scope="module")
def servers(served, make_served) -> dict[str, Served]:
    """The shared agent-mode server plus the variants some rows need."""
    with socket.socket() as sock:  # a port nobody listens on: the router endpoint is down
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    return {
        "agent": served,
        "simple": make_served(mode="simple", max_turns=2),
        "limits": make_served(max_calls_per_turn=2, max_total_calls=3),
        "down": make_served(router_api_base=f"http://127.0.0.1:{closed}/v1"),
    }


def _kinds(meta: dict[str, Any]) -> list[str | None]:
    return [c["error_kind"] for c in meta["call_history"]]


def _check(case: str, response, line: dict[str, Any] | None) -> None:  # noqa: C901 - one branch per table row
    if case in ("router_down", "router_http_error", "router_malformed"):
        error_of(response, 502, "router_upstream_error")
        assert line is not None and line["success"] is False and line["calls"] == []
        return
    if case == "episode_timeout":
        error_of(response, 504, "timeout")
        assert line is not None and line["success"] is False
        return
    meta = meta_of(response)
    assert line is not None and line["success"] and line["total_cost_usd"] == pytest.approx(meta["total_cost"])
    ran = [c for c in meta["call_history"] if c["executed"] and c["model"]]
    assert [c["model"] for c in line["calls"]] == [c["model"] for c in ran]
    kinds, strategy = _kinds(meta), meta["routing_strategy"]
    if case == "last_turn_agent":
        assert strategy == "max_turns_reached" and meta["valid"] is False and kinds == [None, None, "last_turn"]
        assert response.json()["choices"][0]["message"]["content"].startswith("answer of fault-b")
    elif case == "last_turn_simple_runs":
        assert strategy == "delegate_to_model" and meta["model_used"] == "fault-b" and kinds == ["bad_request", None]
    elif case in ("unavailable_tool", "bad_arguments", "select_unknown_call"):
        assert kinds[0] == case and not meta["call_history"][0]["executed"] and strategy == "direct_response"
    elif case == "select_not_alone":
        assert kinds[:2] == ["select_not_alone", None] and strategy == "select_response"
    elif case in ("target_failure", "target_timeout"):
        assert kinds == ["server" if case == "target_failure" else "timeout"] and strategy == "synthesized_response"
        assert meta["target_models_cost"] == 0
    elif case in ("budget_worst_case", "budget_unpriced"):
        assert kinds == ["budget"] and meta["target_models_cost"] == 0 and strategy == "direct_response"
    elif case == "call_limits":
        assert kinds == [None, None, "turn_call_limit", None, "total_call_limit", None]
    elif case == "simple_one_call":
        assert (
            kinds == [None, "simple_one_call"] and strategy == "delegate_to_model" and meta["model_used"] == "fault-a"
        )
    elif case == "failed_delegation_then_answer":
        assert kinds == ["server"] and strategy == "synthesized_response" and meta["turns_used"] == 2
    else:
        pytest.fail(f"no check for {case}")


@pytest.mark.parametrize(("case", "server", "text", "fields"), ROWS, ids=[row[0] for row in ROWS])
def test_defined_outcome(servers, case, server, text, fields):
    """The documented outcome, in bounded time, in the ledger, and the server keeps serving."""
    target = servers[server]
    response = target.post(f"{case} {text}", **fields)
    _check(case, response, target.request_line(response))
    servers["agent"].assert_still_serving()
    if server != "down":
        target.assert_still_serving()
