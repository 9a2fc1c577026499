"""`xrouter_sync`: verl's synchronous V1 trainer plus per-step means of the reward's extra info.

verl 0.9.1 logs the reward function's extra keys only for validation (`val-aux/<data_source>/<key>/...`).
For a router the training-time cost, number of calls and validity are the first signs of a healthy or
collapsing run, so this trainer adds, after verl's own step metrics, the batch mean of every numeric
key `compute_score` returned (`xrouter/cost_usd/mean`, `xrouter/num_calls/mean`, `xrouter/valid/mean`,
`xrouter/finish_select_response/mean`, ...). Selected with `trainer.v1.trainer_mode=xrouter_sync`
(the default of router_dapo.yaml); everything else is verl's `sync` trainer unchanged.

It also logs `xrouter/filter_keep_rate` (share of generated groups the DAPO filter kept for the
step), `xrouter/valid_tool_call_rate` (tool calls the engine ran / tool calls the policy wrote) and
`xrouter/model_share/<model>` (share of the step's model calls that went to each model), with rows at several
λ the same means per λ bucket (`xrouter/acc@λ=3`, ...), and it stops
with `TrainingStalled` when generation batches keep being filtered away (`stall_guard.py`,
`xrouter.stall_gen_batches`).

Validation adds metrics per cost-weight bucket (`val/acc@λ=3`, `val/cost@λ=3`, ...; `lambda_metrics.py`),
so a run on rows with several λ shows the router's whole frontier at every validation.

Before verl allocates any GPU, the trainer also builds the rollout's tools once on the driver
(`check_tools`), so a pooled model without a price, a missing tool config or a bad tool backend
stops training at start-up with one clear error instead of failing later inside the rollout workers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import transfer_queue as tq
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from xrouter.errors import UsageError
from xrouter.verl_plugin.lambda_metrics import lambda_bucket_metrics
from xrouter.verl_plugin.stall_guard import DEFAULT_STALL_GEN_BATCHES, StallGuardReplayBuffer

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


def call_metrics(extra_fields: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Valid-tool-call rate and each model's share of the calls, over a step's trajectories."""
    executed = refused = 0
    models: dict[str, int] = {}
    for fields in extra_fields:
        executed += int(fields.get("xrouter_num_calls", 0) or 0)
        refused += int(fields.get("xrouter_refused_calls", 0) or 0)
        for call in fields.get("xrouter_calls", None) or []:
            model = str(call.get("model", "?"))
            models[model] = models.get(model, 0) + 1
    out: dict[str, float] = {}
    if executed + refused:
        out[f"{METRIC_PREFIX}/valid_tool_call_rate"] = executed / (executed + refused)
    total = sum(models.values())
    for model, count in sorted(models.items()):
        out[f"{METRIC_PREFIX}/model_share/{model}"] = count / total
    return out


def check_tools(config: Any) -> list[Any]:
    """Build the tools of `multi_turn.tool_config_path` as the rollout workers will (prices checked); return them."""
    from verl.tools.tool_registry import initialize_tools_from_config

    path = config.actor_rollout_ref.rollout.multi_turn.get("tool_config_path", None)
    if not path:
        raise UsageError(
            "actor_rollout_ref.rollout.multi_turn.tool_config_path is not set: write the router's tools with "
            "`xrouter tools --format verl --out tools.yaml` and pass its path"
        )
    # CallModelTool's constructor refuses a model without a price (CatalogError "no price for ..."),
    # so an unpriced pooled model can never look free to the policy.
    return initialize_tools_from_config(str(path))


@register_trainer("xrouter_sync")
class XRouterTrainerSync(PPOTrainerSync):
    """verl's sync trainer; refuses to start on unusable tools and logs the step means of the reward's extra info."""

    def __init__(self, config: Any) -> None:
        tools = check_tools(config)
        logger.info("xrouter: %d tools checked (every pooled model has a price)", len(tools))
        super().__init__(config)

    # verl branches on the mode's name in several places (replay buffer, TransferQueue submission and
    # checkpoints): under its registered name this trainer would get the async code paths, so it reports
    # the mode it is, "sync", whatever name selected it.
    @property
    def trainer_mode(self) -> str:
        return "sync"

    @trainer_mode.setter
    def trainer_mode(self, value: str) -> None:
        """verl sets the configured name; the mode stays "sync"."""

    def _build_replay_buffer(self) -> Any:
        """verl's replay buffer; the sync one gains the stall guard (same object, guarded subclass)."""
        buffer = super()._build_replay_buffer()
        if type(buffer) is ReplayBuffer:
            buffer.__class__ = StallGuardReplayBuffer
            block = self.config.get("xrouter", None) or {}
            buffer.configure_guard(int(block.get("stall_gen_batches", DEFAULT_STALL_GEN_BATCHES)))
        return buffer

    def _add_prompts_to_generate(self, num_prompts: int) -> int:
        """verl's refill, counted by the stall guard first (it raises when the step cannot fill)."""
        if isinstance(self.replay_buffer, StallGuardReplayBuffer):
            self.replay_buffer.count_refill(num_prompts)
        return super()._add_prompts_to_generate(num_prompts)

    def _val_metrics_update(
        self,
        data_sources: Any,
        sample_uids: Any,
        reward_extra_infos_dict: dict[str, list],
        sample_turns: Any,
        expected_acc_counts: dict | None = None,
    ) -> dict[str, float]:
        """verl's validation metrics plus the means per λ bucket (`val/acc@λ=...`, `val/cost@λ=...`)."""
        metrics = super()._val_metrics_update(
            data_sources, sample_uids, reward_extra_infos_dict, sample_turns, expected_acc_counts=expected_acc_counts
        )
        metrics.update(lambda_bucket_metrics(reward_extra_infos_dict))
        return metrics

    def _compute_metrics(self, batch: Any, metrics: dict, timing_raw: dict, global_steps: int, epoch: int) -> None:
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        try:
            data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["extra_fields"])
            extra = data.pop("extra_fields").tolist()
        except Exception as exc:  # metrics are diagnostics: a failure here must not stop a long run
            logger.warning("xrouter step metrics skipped: %s", exc)
            return
        real = [e for e, tag in zip(extra, batch.tags, strict=False) if not tag.get("is_padding", False)]
        real = [e for e in real if isinstance(e, dict)]
        infos = [e.get("reward_extra_info") or {} for e in real]
        metrics.update(step_means(infos))
        if len({i.get("cost_lambda") for i in infos}) > 1:  # rows at several λ: the step's frontier too
            columns = {k: [i.get(k) for i in infos] for k in ("cost_lambda", "acc", "cost_usd", "score", "num_calls")}
            metrics.update(lambda_bucket_metrics(columns, prefix=METRIC_PREFIX))
        metrics.update(call_metrics(real))
        if isinstance(self.replay_buffer, StallGuardReplayBuffer):
            kept, dropped = self.replay_buffer.last_keep_stats
            if kept + dropped:
                metrics[f"{METRIC_PREFIX}/filter_keep_rate"] = kept / (kept + dropped)
