"""`xrouter_sync`: verl's synchronous V1 trainer plus per-step means of the reward's extra info.

verl 0.9.1 logs the reward function's extra keys only for validation (`val-aux/<data_source>/<key>/...`).
For a router the training-time cost, number of calls and validity are the first signs of a healthy or
collapsing run, so this trainer adds, after verl's own step metrics, the batch mean of every numeric
key `compute_score` returned (`xrouter/cost_usd/mean`, `xrouter/num_calls/mean`, `xrouter/valid/mean`,
`xrouter/finish_select_response/mean`, ...). Selected with `trainer.v1.trainer_mode=xrouter_sync`
(the default of router_dapo.yaml); everything else is verl's `sync` trainer unchanged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import transfer_queue as tq
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

logger = logging.getLogger(__name__)
METRIC_PREFIX = "xrouter"


def step_means(reward_infos: Iterable[Mapping[str, Any] | None]) -> dict[str, float]:
    """Mean of each numeric (or boolean) reward-info key over the trajectories that report it."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for info in reward_infos:
        for key, value in (info or {}).items():
            if isinstance(value, np.generic):
                value = value.item()
            if not isinstance(value, (int, float, bool)) or (isinstance(value, float) and math.isnan(value)):
                continue
            sums[key] = sums.get(key, 0.0) + float(value)
            counts[key] = counts.get(key, 0) + 1
    return {f"{METRIC_PREFIX}/{key}/mean": sums[key] / counts[key] for key in sorted(sums)}


@register_trainer("xrouter_sync")
class XRouterTrainerSync(PPOTrainerSync):
    """verl's sync trainer; also logs the step means of the reward's extra info."""

    def _compute_metrics(self, batch: Any, metrics: dict, timing_raw: dict, global_steps: int, epoch: int) -> None:
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        try:
            data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["extra_fields"])
            extra = data.pop("extra_fields").tolist()
        except Exception as exc:  # metrics are diagnostics: a failure here must not stop a long run
            logger.warning("xrouter step metrics skipped: %s", exc)
            return
        real = [e for e, tag in zip(extra, batch.tags, strict=False) if not tag.get("is_padding", False)]
        metrics.update(step_means(e.get("reward_extra_info") for e in real if isinstance(e, dict)))
