"""No silent stalls: verl's sync replay buffer with a limit on generation batches that fill nothing.

With DAPO's group filter on, verl's sync replay buffer drops every group whose rollouts all scored the
same and generates replacements until a training batch is full. A policy that gives no learning signal
(an untrained model that never calls a tool, so every reward in a group is equal) makes that loop spin
forever without an error, and verl 0.9.1 ignores `max_num_gen_batches`. `StallGuardReplayBuffer`
counts the replacement prompts generated for one training batch; before a refill would pass
`xrouter.stall_gen_batches` batches' worth it raises `TrainingStalled`, whose message names what the dropped groups show: the shared value of the
filter metric, the share of trajectories without a valid tool call, and the share with no answer.

It also records, per sampled batch, how many groups the filter kept and dropped (the keep rate that
`xrouter_sync` logs as `xrouter/filter_keep_rate`).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import transfer_queue as tq
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

logger = logging.getLogger(__name__)
DEFAULT_STALL_GEN_BATCHES = 10


class TrainingStalled(RuntimeError):
    """Generation batches keep producing groups the DAPO filter drops: training cannot progress."""


def _share(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "n/a"


class FilterDiagnosis:
    """What the dropped groups of one training batch looked like."""

    def __init__(self) -> None:
        self.groups = 0
        self.trajectories = 0
        self.no_valid_call = 0
        self.no_answer = 0
        self.shared_values: Counter = Counter()

    def add(self, extra_fields: list[Any], shared_values: Counter) -> None:
        """Count the trajectories of groups about to be dropped."""
        self.groups += sum(shared_values.values())
        self.shared_values.update(shared_values)
        for fields in extra_fields:
            fields = getattr(fields, "data", fields)
            if not isinstance(fields, dict):
                continue
            self.trajectories += 1
            if int(fields.get("xrouter_num_calls", 0) or 0) == 0:
                self.no_valid_call += 1
            if str(fields.get("xrouter_finish", "")) == "no_answer":
                self.no_answer += 1

    def message(self, limit: int, prompts: int, metric: str) -> str:
        """One paragraph naming the cause and what to change."""
        values = ", ".join(f"{metric}={v:g} in {n} groups" for v, n in self.shared_values.most_common(3))
        return (
            f"training stalled: the DAPO group filter (algorithm.filter_groups.metric={metric}) dropped the step's "
            f"groups and {prompts} replacement prompts without filling one training batch, and more would pass "
            f"xrouter.stall_gen_batches={limit}. Every dropped "
            f"group scored the same in all its rollouts ({values or 'no groups finished'}); "
            f"{_share(self.no_valid_call, self.trajectories)} of their {self.trajectories} trajectories made no "
            f"valid tool call and {_share(self.no_answer, self.trajectories)} returned no answer. The policy gives "
            "no learning signal: warm-start it on routing traces (`xrouter sft-data`, then `xrouter train --stage "
            "sft`), raise actor_rollout_ref.rollout.n or the temperature, filter on `score` instead of `acc`, or "
            "raise xrouter.stall_gen_batches."
        )


class StallGuardReplayBuffer(ReplayBuffer):
    """verl's sync `ReplayBuffer` that stops after too many generation batches fill no training batch.

    Built by verl; `XRouterTrainerSync` turns the instance into this class and calls `configure_guard`.
    """

    def configure_guard(self, max_gen_batches: int) -> None:
        """Allow `max_gen_batches` refill batches per training batch (0 turns the guard off)."""
        self.max_gen_batches = int(max_gen_batches)
        self.last_keep_stats: tuple[int, int] = (0, 0)
        self._reset_guard()

    def _reset_guard(self) -> None:
        self._refilled = 0
        self._dropped = 0
        self._diagnosis = FilterDiagnosis()

    def sample(self, global_steps: int, partition_id: str, batch_size: int) -> Any:
        """verl's sampling, with the guard's counters reset for this training batch."""
        if partition_id == "val":
            return super().sample(global_steps, partition_id, batch_size)
        self._reset_guard()
        result = super().sample(global_steps, partition_id, batch_size)
        self.last_keep_stats = (batch_size, self._dropped)
        return result

    def _evict_terminal_groups(self, global_steps: int, partition_id: str, eviction_reasons: tuple) -> tuple:
        _stale, dapo_uids, _failed, dapo_counts = eviction_reasons
        if dapo_uids and partition_id != "val":
            self._dropped += len(dapo_uids)
            keys = [k for k in self.partitions[partition_id] if k.split("_")[0] in dapo_uids]
            try:
                data = tq.kv_batch_get(keys=keys, partition_id=partition_id, select_fields=["extra_fields"])
                extra = list(data["extra_fields"])
            except Exception as exc:  # diagnostics only: never let them stop the filter itself
                logger.debug("stall guard could not read dropped groups: %s", exc)
                extra = []
            self._diagnosis.add(extra, Counter(dapo_counts))
        return super()._evict_terminal_groups(global_steps, partition_id, eviction_reasons)

    def count_refill(self, num_prompts: int) -> None:
        """Called before every refill; raises `TrainingStalled` when it would pass the allowed generation batches.

        verl dispatches replacements in chunks of any size (twice the dropped groups), so the check looks at the
        refill about to start: the run never generates more than `max_gen_batches` batches of replacements.
        """
        batch = max(1, int(self.train_batch_size or 1))
        if self.max_gen_batches > 0 and self._refilled + int(num_prompts) > self.max_gen_batches * batch:
            message = self._diagnosis.message(self.max_gen_batches, self._refilled, str(self.filter_groups_metric))
            logger.error("%s", message)
            raise TrainingStalled(message)
        self._refilled += int(num_prompts)
