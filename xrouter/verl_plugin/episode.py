"""Per-trajectory router state shared by the `xrouter_agent` loop and the xrouter tools.

verl runs a tool's create/execute/release once per *call*, so anything that must survive across
calls of one trajectory (the call records `select_response` chooses from, the accumulated cost) lives
in an `EpisodeState` attached to verl's `AgentData`. The agent loop creates it from the training row,
the tools read and extend it, and `trajectory_fields` turns it into the flat `xrouter_*` keys of the
trajectory contract that reach `xrouter.reward.compute_score` through `extra_info`.

Example: after `call_gpt_5_mini` answered "42" for $0.0004 and the router selected it, the fields are
`{"xrouter_cost_usd": 0.0004, "xrouter_valid": True, "xrouter_finish": "select_response",
"xrouter_answer": "42", "xrouter_num_turns": 2, "xrouter_calls": [{"model": "gpt-5-mini", ...}], ...}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xrouter.engine.prompts import Mode
from xrouter.engine.rules import final_outcome, visible_text
from xrouter.engine.trajectory import CallRecord, Trajectory, TurnRecord, strategy_for
from xrouter.errors import DataError

EPISODE_ATTR = "xrouter_episode"


@dataclass
class EpisodeState:
    """What one router trajectory has done so far.

    Args:
        query_id: stable id of the training query (replay and reward join on it).
        user_messages: the user's original conversation; targets receive it through `target_messages`.
        mode: "agent" or "simple".
        max_turns: router generations allowed in the episode.
        turns: router turns so far, as the serving engine records them (raw text + call records).
        history: every call record of earlier turns in order (what `select_response` may name).
    """

    query_id: str
    user_messages: list[dict[str, Any]]
    mode: Mode = "agent"
    max_turns: int = 3
    turns: list[TurnRecord] = field(default_factory=list)
    history: list[CallRecord] = field(default_factory=list)


def episode_from_row(extra_info: Mapping[str, Any] | None, max_turns: int) -> EpisodeState:
    """Build the episode state from a training row's `extra_info` (training-row contract)."""
    info = dict(extra_info or {})
    query_id = info.get("query_id", info.get("index"))
    if query_id is None:
        raise DataError("training row has no extra_info.query_id; regenerate the data with `xrouter preprocess`")
    user_messages = info.get("user_messages")
    if user_messages is None or len(user_messages) == 0:
        raise DataError(
            f"training row {query_id}: extra_info.user_messages is missing; regenerate it with `xrouter preprocess`"
        )
    mode = str(info.get("mode") or "agent")
    if mode not in ("agent", "simple"):
        raise DataError(f"training row {query_id}: extra_info.mode must be 'agent' or 'simple', got {mode!r}")
    messages = [{"role": str(m["role"]), "content": m["content"]} for m in user_messages]
    return EpisodeState(query_id=str(query_id), user_messages=messages, mode=mode, max_turns=max_turns)  # type: ignore[arg-type]


def attach(agent_data: Any, state: EpisodeState) -> None:
    """Attach `state` to verl's AgentData (an attribute, so it never leaks into `extra_fields`)."""
    setattr(agent_data, EPISODE_ATTR, state)


def episode_of(agent_data: Any) -> EpisodeState | None:
    """The episode attached to `agent_data`, or None when the tool runs outside `xrouter_agent`."""
    return getattr(agent_data, EPISODE_ATTR, None) if agent_data is not None else None


def trajectory(state: EpisodeState, elapsed_s: float = 0.0) -> Trajectory:
    """The engine's `Trajectory` of the episode (outcome by `final_outcome`, as in serving)."""
    outcome = final_outcome([t.view(visible_text(t.text)) for t in state.turns], state.mode)
    had_calls = any(c.executed and c.model for t in state.turns for c in t.calls)
    hit_limit = len(state.turns) >= state.max_turns and bool(state.turns and state.turns[-1].calls)
    return Trajectory(
        mode=state.mode,
        router_model="policy",
        outcome=outcome,
        answer=outcome.answer,
        strategy=strategy_for(outcome, had_calls, hit_limit),
        turns=state.turns,
        total_time_s=elapsed_s,
    )


def call_fields(record: CallRecord) -> dict[str, Any]:
    """One executed call as written to `extra_fields["xrouter_calls"]`: the contract keys plus `answer` (its text)."""
    return {**record.to_reward_call(), "answer": record.output if record.success else ""}


def trajectory_fields(state: EpisodeState, elapsed_s: float = 0.0) -> dict[str, Any]:
    """The `xrouter_*` keys of the trajectory contract, plus counters logged by the reward manager."""
    traj = trajectory(state, elapsed_s)
    fields = traj.to_reward_fields()
    calls = traj.model_calls
    fields.update(
        {
            # the contract's per-call dicts plus the text each target returned (for rollout dumps and audits)
            "xrouter_calls": [call_fields(c) for c in calls],
            "xrouter_num_calls": len(calls),
            "xrouter_failed_calls": sum(1 for c in calls if not c.success),
            "xrouter_refused_calls": sum(1 for c in traj.calls if not c.executed),
            "xrouter_reason": traj.outcome.reason,
            "xrouter_strategy": traj.strategy,
            "xrouter_rollout_s": float(elapsed_s),
        }
    )
    return fields
