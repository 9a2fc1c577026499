"""The stall guard's counting and message, and the per-step call metrics of `xrouter_sync` (no Ray needed)."""

from __future__ import annotations

from collections import Counter

import pytest

from xrouter.verl_plugin.stall_guard import FilterDiagnosis, StallGuardReplayBuffer, TrainingStalled
from xrouter.verl_plugin.trainer import call_metrics


def _guard(max_batches: int, batch: int = 2) -> StallGuardReplayBuffer:
    buffer = object.__new__(StallGuardReplayBuffer)  # the counters only; verl's buffer state is not needed
    buffer.train_batch_size = batch
    buffer.filter_groups_metric = "acc"
    buffer.configure_guard(max_batches)
    return buffer


def test_refills_up_to_the_limit_pass_and_the_next_raises_with_the_cause():
    """Replacements are counted in prompts; a refill past the limit raises, naming the shared value and shares."""
    guard = _guard(3)
    guard._diagnosis.add([{"xrouter_num_calls": 0, "xrouter_finish": "direct_answer"}] * 8, Counter({0.0: 2}))
    for _ in range(3):
        guard.count_refill(2)
    with pytest.raises(TrainingStalled) as info:
        guard.count_refill(2)
    message = str(info.value)
    assert message.startswith("training stalled: the DAPO group filter (algorithm.filter_groups.metric=acc)")
    assert "6 replacement prompts" in message and "xrouter.stall_gen_batches=3" in message
    assert "acc=0 in 2 groups" in message and "100% of their 8 trajectories made no valid tool call" in message


def test_a_refill_chunk_that_would_pass_the_limit_is_refused_before_it_runs():
    """verl refills in chunks of any size: the guard never lets the replacements pass the limit."""
    guard = _guard(2)
    guard.count_refill(2)
    with pytest.raises(TrainingStalled, match="2 replacement prompts"):
        guard.count_refill(4)


def test_a_new_training_batch_starts_counting_again_and_zero_turns_the_guard_off():
    """The count resets for every sampled batch; stall_gen_batches=0 never raises."""
    guard = _guard(2)
    guard.count_refill(2)
    guard._reset_guard()
    guard.count_refill(2)  # one batch since the reset: below the limit
    off = _guard(0)
    for _ in range(100):
        off.count_refill(2)


def test_diagnosis_counts_trajectories_without_calls_and_without_answers():
    """The shares in the message come from the dropped trajectories' xrouter fields."""
    diagnosis = FilterDiagnosis()
    fields = [
        {"xrouter_num_calls": 1, "xrouter_finish": "delegated"},
        {"xrouter_num_calls": 0, "xrouter_finish": "no_answer"},
    ]
    diagnosis.add(fields, Counter({1.0: 1}))
    text = diagnosis.message(1, 2, "score")
    assert "50% of their 2 trajectories made no valid tool call and 50% returned no answer" in text
    assert "score=1 in 1 groups" in text


def test_call_metrics_give_the_valid_call_rate_and_each_models_share():
    """Executed calls over written calls, and the share of calls per model."""
    fields = [
        {"xrouter_num_calls": 1, "xrouter_refused_calls": 1, "xrouter_calls": [{"model": "a"}]},
        {"xrouter_num_calls": 2, "xrouter_refused_calls": 0, "xrouter_calls": [{"model": "a"}, {"model": "b"}]},
        {"xrouter_num_calls": 0, "xrouter_refused_calls": 0},
    ]
    out = call_metrics(fields)
    assert out["xrouter/valid_tool_call_rate"] == pytest.approx(3 / 4)
    assert out["xrouter/model_share/a"] == pytest.approx(2 / 3) and out["xrouter/model_share/b"] == pytest.approx(1 / 3)
