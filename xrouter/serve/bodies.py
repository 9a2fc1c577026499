"""Response bodies of the router API: the chat.completion and the fields of the last streamed chunk."""

from __future__ import annotations

import time
from typing import Any

from xrouter.engine.trajectory import Trajectory


def usage_of(trajectory: Trajectory) -> dict[str, int]:
    """Tokens processed for this request: the router's own plus every target call's (all recorded, none estimated)."""
    prompt = sum(t.router_input_tokens for t in trajectory.turns) + sum(c.input_tokens for c in trajectory.model_calls)
    completion = sum(t.router_output_tokens for t in trajectory.turns)
    completion += sum(c.output_tokens for c in trajectory.model_calls)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_body(request_id: str, model: str, trajectory: Trajectory) -> dict[str, Any]:
    """The non-streaming chat.completion body with `router_metadata`."""
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": trajectory.answer}, "finish_reason": "stop"}
        ],
        "usage": usage_of(trajectory),
        "router_metadata": trajectory.to_metadata(),
    }


def final_fields(trajectory: Trajectory) -> dict[str, Any]:
    """What the last streamed chunk carries besides finish_reason."""
    return {"usage": usage_of(trajectory), "router_metadata": trajectory.to_metadata()}
