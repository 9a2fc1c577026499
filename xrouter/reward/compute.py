"""verl custom reward entry point: quality scorer + cost from the trajectory keys + THE shaping.

Example: extra_info {"xrouter_valid": True, "xrouter_answer": "#### 7", "xrouter_cost_usd": 0.05,
"xrouter_calls": [{"model": "gpt-5-mini", "cost_usd": 0.05, "success": True}], "xrouter_finish":
"select_response"}, data_source "openai/gsm8k", ground truth "#### 7", kwargs shaping="xrouter",
cost_lambda=3 -> {"score": 0.85, "acc": 1.0, "quality": 1.0, "cost_usd": 0.05, "num_calls": 1, ...}.

A row with its own cost weight (`extra_info["cost_lambda"]`, written by `xrouter preprocess --cost-lambda
SPEC`) is scored with that λ instead of the `cost_lambda` kwarg, in training and validation alike; the λ used
is returned as `cost_lambda`, so validation can report metrics per λ.

Missing trajectory keys mean a plain verl rollout: the answer is `solution_str`, no calls, cost 0.
Every returned value is a number (verl averages each key across the batch for its logs), and the
key set is the same for every call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, get_args

from xrouter.engine.prompts import check_cost_lambda
from xrouter.engine.rules import Finish
from xrouter.reward.config import RewardConfig
from xrouter.reward.sandbox import SandboxLimits
from xrouter.reward.scorers import JudgeConfig, ScoreOptions, score
from xrouter.reward.shaping import shape_reward

FINISH_TYPES: tuple[str, ...] = get_args(Finish)  # one home: the engine rules
_SANDBOX_KWARGS = {"sandbox_timeout_s": "timeout_s", "sandbox_memory_mb": "memory_mb"}
_JUDGE_KWARGS = ("judge_base_url", "judge_model", "judge_api_key_env", "judge_timeout_s")


def split_kwargs(kwargs: Mapping[str, Any]) -> tuple[RewardConfig, ScoreOptions]:
    """Turn compute_score kwargs into the reward config and scorer options (unknown names raise)."""
    rest = dict(kwargs)
    sandbox = {field: rest.pop(key) for key, field in _SANDBOX_KWARGS.items() if key in rest}
    judge_args = {key: rest.pop(key) for key in _JUDGE_KWARGS if key in rest}
    math_timeout = int(rest.pop("math_timeout_s", 5))
    judge = None
    if judge_args.get("judge_base_url"):
        import os  # the key is read when the judge is configured, never at import

        key_env = judge_args.get("judge_api_key_env")
        judge = JudgeConfig(
            base_url=str(judge_args["judge_base_url"]),
            model=str(judge_args.get("judge_model") or ""),
            api_key=os.environ.get(key_env) if key_env else None,
            timeout_s=float(judge_args.get("judge_timeout_s", 60.0)),
        )
    options = ScoreOptions(sandbox=SandboxLimits(**sandbox), math_timeout_s=math_timeout, judge=judge)
    return RewardConfig.from_kwargs(rest), options


def row_config(config: RewardConfig, extra: Mapping[str, Any]) -> RewardConfig:
    """The reward config of one row: its own `cost_lambda` when it has one (None or NaN: the config's)."""
    value = extra.get("cost_lambda")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return config
    if hasattr(value, "item"):  # a numpy scalar from a parquet column
        value = value.item()
    return replace(config, cost_lambda=check_cost_lambda(value, "extra_info['cost_lambda']"))


def _calls(extra: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    calls = extra.get("xrouter_calls")
    if calls is None:
        return []
    if not isinstance(calls, Iterable) or isinstance(calls, (str, bytes, Mapping)):
        raise ValueError(f"extra_info['xrouter_calls'] must be a list of call dicts, got {type(calls).__name__}")
    return list(calls)


def _cost(extra: Mapping[str, Any], calls: list[Mapping[str, Any]]) -> float:
    if extra.get("xrouter_cost_usd") is not None:
        return float(extra["xrouter_cost_usd"])
    # failed calls carry cost 0 by contract; a missing or None cost also counts 0
    return float(sum(float(c.get("cost_usd") or 0.0) for c in calls if c.get("success", True)))


def _is_number(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _recorded_quality(extra: Mapping[str, Any]) -> float | None:
    """Quality from recorded correctness (replayed rows without a gold answer), or None when not applicable.

    RouterBench-style rows carry `extra_info["recorded"] = [{model, score, cost_usd}, ...]`: the answer
    returned by target model m is exactly m's recorded answer, so its quality is m's recorded score. An
    answer the router wrote itself cannot be checked without a gold answer and scores 0.
    """
    recorded = extra.get("recorded")
    if recorded is None or len(recorded) == 0:
        return None
    # a model without a recorded score (missing outcome, None or NaN) cannot have been replayed: it scores 0
    scores = {str(r["model"]): float(r["score"]) for r in recorded if r.get("model") and _is_number(r.get("score"))}
    model = extra.get("xrouter_answer_model")
    return scores.get(str(model), 0.0) if model else 0.0


def _no_gold(ground_truth: Any) -> bool:
    """True for a missing gold answer: None, "", or an empty dict/list/array (no `==` on arrays)."""
    if ground_truth is None or isinstance(ground_truth, str):
        return not (ground_truth or "").strip()
    return hasattr(ground_truth, "__len__") and len(ground_truth) == 0


def _quality(data_source: str, text: str, ground_truth: Any, extra: Mapping[str, Any], options: ScoreOptions) -> float:
    if _no_gold(ground_truth):
        recorded = _recorded_quality(extra)
        if recorded is not None:
            return recorded
    return score(data_source, text, ground_truth, extra, options=options).score


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Shaped reward (`score`), quality (`acc`, `quality`) and per-trajectory diagnostics for verl."""
    config, options = split_kwargs(kwargs)
    extra = extra_info or {}
    config = row_config(config, extra)
    valid = bool(extra["xrouter_valid"]) if extra.get("xrouter_valid") is not None else True
    answer = extra.get("xrouter_answer")
    text = str(answer) if answer is not None else str(solution_str or "")
    calls = _calls(extra)
    cost = _cost(extra, calls)
    quality = _quality(data_source, text, ground_truth, extra, options) if valid else 0.0
    reward = shape_reward(quality, cost, config, valid)
    finish = extra.get("xrouter_finish")
    failed = sum(1 for c in calls if not c.get("success", True))
    turns = extra.get("xrouter_num_turns", extra.get("num_turns", 0))
    result = {
        "score": float(reward),
        "acc": float(quality),
        "quality": float(quality),
        "cost_usd": cost,
        "num_calls": float(len(calls)),
        "num_failed_calls": float(failed),
        "num_turns": float(turns or 0),
        "valid": float(valid),
        "no_call": float(not calls),
        "cost_lambda": config.cost_lambda,
    }
    result.update({f"finish_{kind}": float(finish == kind) for kind in FINISH_TYPES})
    return result
