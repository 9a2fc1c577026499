"""Limits that hold under faults: answer size, per-model cooldown, budgets that include the router's own turns."""

from __future__ import annotations

import pytest

from tests.faults.conftest import TARGET_COST, TURN_COST, error_of, meta_of


def test_oversized_target_answer_is_a_failed_call(served):
    """A 50 MiB answer is cut off at the cap: a failed call the router reads, not a server that grows by 50 MiB."""
    meta = meta_of(served.post("Huge target [[r1=call:fault-a target=huge:50]]"))
    call = meta["call_history"][0]
    assert not call["success"] and call["error_kind"] == "bad_response" and "larger than" in call["error"]
    assert call["cost_usd"] == 0
    served.assert_still_serving()


def test_oversized_router_answer_is_a_502(served):
    """The router endpoint sending 50 MiB is a router failure, with the reason."""
    error = error_of(served.post("Huge router [[r1=huge:50]]"), 502, "router_upstream_error")
    assert "larger than" in error["message"]
    served.assert_still_serving()


def test_model_failing_every_call_cools_down_instead_of_being_retried_each_request(make_served):
    """After repeated failures the model is skipped without a request for the cooldown, then probed again."""
    served = make_served(models=("fault-a", "fault-c"), cooldown_s=1.5)
    seen = served.upstream_app.state.seen

    def ask() -> tuple[dict, int]:
        before = sum(1 for role, body, _ in seen if role == "target" and body["model"] == "fault-c")
        call = meta_of(served.post("Dead model [[r1=call:fault-c target=status:503]]"))["call_history"][0]
        return call, sum(1 for role, body, _ in seen if role == "target" and body["model"] == "fault-c") - before

    results = [ask() for _ in range(4)]
    cooled = [(call, sent) for call, sent in results if call["error_kind"] == "cooldown"]
    assert cooled, [call["error"] for call, _ in results]
    call, sent = cooled[0]
    assert sent == 0 and "cooldown" in call["error"] and "fault-c" in call["error"]
    assert results[0][0]["error_kind"] == "server"
    ok = meta_of(served.post("Other model [[r1=call:fault-a]]"))["call_history"][0]
    assert ok["success"]  # cooldown is per model
    import time

    time.sleep(1.6)
    probe, sent = ask()
    assert sent >= 1 and probe["error_kind"] in ("server", "cooldown")  # one probe reached the upstream


def test_budget_counts_the_router_turn_that_reads_the_answer(served):
    """A call whose own worst case fits, but not with the router turn needed to read it, is refused; total <= budget."""
    budget = 2 * TURN_COST + 0.5 * TARGET_COST  # the call alone (max 20 tokens) fits after turn 1; with turn 2 not
    meta = meta_of(served.post("Budget [[r1=call:fault-a]]", max_cost_usd=budget, max_tokens=20))
    call = meta["call_history"][0]
    assert not call["executed"] and call["error_kind"] == "budget" and "router" in call["error"]
    assert meta["total_cost"] <= budget


def test_budget_with_room_for_the_router_still_runs_the_call(served):
    """With room for the call and the router's next turn, the call runs and the total stays within the budget."""
    budget = 0.05
    meta = meta_of(served.post("Budget ok [[r1=call:fault-a]]", max_cost_usd=budget, max_tokens=20))
    assert meta["call_history"][0]["success"] and meta["routing_strategy"] == "select_response"
    assert meta["total_cost"] == pytest.approx(2 * TURN_COST + TARGET_COST) and meta["total_cost"] <= budget
