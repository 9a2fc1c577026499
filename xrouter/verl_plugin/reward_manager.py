"""`xrouter_dapo`: verl's DAPO reward-loop manager that lets `compute_score` see the trajectory.

verl's reward-loop `dapo` manager passes the row's `extra_info` to `compute_score` but drops the agent
loop's `extra_fields` (`tool_extra_fields`), where `xrouter_agent` writes the trajectory's calls, cost
and outcome. This subclass merges them into a copy of `extra_info` (the row itself is left untouched,
unlike verl's `naive` manager) and then runs verl's DAPO scoring unchanged, overlong penalty included.

`xrouter.reward.compute_score` returns the router's counters (cost, calls, failed calls, turns,
validity, how the episode finished) next to `score` and `acc`, so verl logs them per data source in
validation (`val-aux/<data_source>/cost_usd/mean@N`, ...), DAPO filters groups on `acc`, and
`trainer.rollout_data_dir` dumps them with every rollout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.dapo import DAPORewardManager


def merged_extra_info(extra_info: Any, tool_extra_fields: Any, num_turns: Any = None) -> dict[str, Any]:
    """A new `extra_info` with the agent loop's fields merged in (trajectory keys win)."""
    merged = dict(extra_info or {})
    if isinstance(tool_extra_fields, dict):
        merged.update(tool_extra_fields)
    if num_turns is not None:
        merged["num_turns"] = int(num_turns)
    return merged


@register("xrouter_dapo")
class XRouterDAPORewardManager(DAPORewardManager):
    """DAPO reward manager whose `compute_score` sees the agent loop's trajectory fields in `extra_info`."""

    async def run_single(self, data: DataProto) -> dict:
        """Score the last trajectory of `data` like verl's DAPO manager, with `xrouter_*` keys visible."""
        data = data[-1:]
        row = data.non_tensor_batch
        num_turns = row["__num_turns__"][0] if "__num_turns__" in row else None
        tef = row["tool_extra_fields"][0] if "tool_extra_fields" in row else None
        merged = merged_extra_info(row["extra_info"][0] if "extra_info" in row else None, tef, num_turns)
        # Replace the column (a fresh object array), never the caller's dict: the same row object is
        # shared by every rollout of a prompt.
        row["extra_info"] = np.array([merged], dtype=object)
        return await super().run_single(data)
