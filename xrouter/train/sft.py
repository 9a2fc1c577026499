"""Routing traces for a supervised warm start: router training rows + recorded outcomes -> chat conversations.

Reinforcement learning only sees a reward difference once the policy emits tool calls the agent loop
can run; an untrained small model writes none, every reward in a group is equal and the DAPO filter
never fills a batch. A few supervised steps on traces written in exactly the format the agent loop
parses fix that, and this module writes those traces:

* the conversation starts with the row's own prompt (`prompt` of `xrouter preprocess`, made by the
  one router-prompt function that training and serving share) and the row's pool as tools;
* the target turn calls one model with a hermes `<tool_call>` block; in agent mode the recorded answer
  comes back as the tool response and a second turn returns it with `select_response`;
* which model is the target is a policy: `uniform` over the pool (a start that has not learned which
  model suits which task, for RL to discover it), `table` (the model with the best mean reward of the
  row's task at the given λ, or at the row's own λ when it has one), or `cheapest-correct` (the cheapest pool model whose recorded answer was
  right, else the one with the best mean reward);
* with `think=True` the turn opens with a one-line note naming the request's task inside
  `<think>...</think>` (the router prompt asks for brief thinking). It teaches the policy to tell tasks
  apart without telling it which model suits which; the choice is left to the target policy.

Only rows outside the held-out split (`xrouter.eval.split`, the same split `xrouter bench` uses) are
written, so a benchmark on held-out queries never scores a trace the policy was fitted on.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from xrouter.catalog import SELECT_TOOL_NAME
from xrouter.errors import DataError, UsageError
from xrouter.eval.split import in_split
from xrouter.reward.config import RewardConfig
from xrouter.reward.shaping import shape_reward

TargetPolicy = Literal["uniform", "table", "cheapest-correct"]
TARGET_POLICIES: tuple[str, ...] = ("uniform", "table", "cheapest-correct")
DEFAULT_CALL_PROMPT = "Answer the user's request exactly as it asks, in the format it asks for."
AnswerLookup = Callable[[str, str], str]


@dataclass(frozen=True)
class TraceConfig:
    """How traces are written.

    Args:
        target: which pool model the trace calls (`uniform`, `table`, `cheapest-correct`).
        reward: the reward that `table` and `cheapest-correct` rank models by (training's λ).
        think: open the turn with a one-line task note inside <think>...</think>.
        call_prompt: the optimized_system_prompt the trace writes for the target model.
        seed: seed of the uniform choice.
        holdout / split_seed: the held-out split left out (as in `xrouter bench --split eval`).
        per_row: traces written per row (with `uniform`, several draws of the same prompt).
    """

    target: TargetPolicy = "uniform"
    reward: RewardConfig = RewardConfig()
    think: bool = True
    call_prompt: str = DEFAULT_CALL_PROMPT
    seed: int = 0
    holdout: float = 0.3
    split_seed: int = 0
    per_row: int = 1

    def __post_init__(self) -> None:
        if self.target not in TARGET_POLICIES:
            raise UsageError(f"target {self.target!r} is unknown; choose one of {', '.join(TARGET_POLICIES)}")
        if self.per_row < 1:
            raise UsageError(f"traces per row must be at least 1 (got {self.per_row})")


def _plain(value: Any) -> Any:
    """numpy arrays and pyarrow scalars from a parquet row as plain lists and dicts."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def row_outcomes(extra: Mapping[str, Any], where: str) -> dict[str, tuple[float, float]]:
    """model -> (recorded score, recorded cost) from a row's `extra_info.recorded`."""
    recorded = extra.get("recorded")
    if not isinstance(recorded, list) or not recorded:
        raise DataError(f"{where}: extra_info has no recorded outcomes (rows must come from outcome tables)")
    out = {}
    for item in recorded:
        score, cost = item.get("score"), item.get("cost_usd")
        if score is None or cost is None or score != score or cost != cost:
            continue
        out[str(item["model"])] = (float(score), float(cost))
    return out


def pool_of(extra: Mapping[str, Any], where: str) -> list[str]:
    """The row's model pool (catalog ids), in the order its tools are offered."""
    pool = extra.get("model_pool")
    if not isinstance(pool, list) or not pool:
        raise DataError(f"{where}: extra_info.model_pool is missing (rows must come from `xrouter preprocess`)")
    return [str(m) for m in pool]


def table_key(row: Mapping[str, Any]) -> str | tuple[str, float]:
    """Where `task_table` keeps a row's best model: its task, or (task, λ) for a row with its own λ."""
    lam = row["extra_info"].get("cost_lambda")
    return str(row["data_source"]) if lam is None else (str(row["data_source"]), float(lam))


def task_table(rows: Sequence[Mapping[str, Any]], reward: RewardConfig) -> dict[str | tuple[str, float], str]:
    """For each task (data source), the pool model with the best mean reward over `rows`.

    Rows with their own λ (`xrouter preprocess --cost-lambda LIST|DIST`) get the best model of their task at
    that λ, keyed (task, λ): the mean reward over all the task's rows, each outcome shaped with the row's λ.
    """
    outcomes: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        extra = row["extra_info"]
        for model, (score, cost) in row_outcomes(extra, row["where"]).items():
            if model in pool_of(extra, row["where"]):
                outcomes[str(row["data_source"])][model].append((score, cost))
    table: dict[str | tuple[str, float], str] = {}
    for key in dict.fromkeys(table_key(r) for r in rows):
        task, lam = (key, None) if isinstance(key, str) else key
        models = outcomes.get(task)
        if not models:
            continue
        config = reward if lam is None else replace(reward, cost_lambda=lam)
        means = {m: float(np.mean(shape_reward(*map(np.asarray, zip(*o, strict=True)), config)))
                 for m, o in models.items()}  # fmt: skip
        table[key] = max(means, key=lambda m: (means[m], m))
    return table


def pick_target(row: Mapping[str, Any], config: TraceConfig, table: Mapping[Any, str], rng: random.Random) -> str:
    """The model a trace calls for `row` under the configured target policy."""
    pool = pool_of(row["extra_info"], row["where"])
    outcomes = {m: o for m, o in row_outcomes(row["extra_info"], row["where"]).items() if m in pool}
    if config.target == "uniform":
        return rng.choice(pool)
    if config.target == "cheapest-correct":
        right = [m for m in pool if outcomes.get(m, (0.0, 0.0))[0] >= 1.0]
        if right:
            return min(right, key=lambda m: (outcomes[m][1], m))
    best = table.get(table_key(row))
    if best is None:
        raise DataError(f"{row['where']}: no recorded outcomes of the pool for task {row['data_source']!r}")
    return best


def tool_name(model_id: str, tools: Sequence[Mapping[str, Any]]) -> str:
    """The `call_<model>` tool of `model_id` among the row's tools (matched by the catalog's tool naming)."""
    from xrouter.catalog import tool_name_for

    name = tool_name_for(model_id)
    if not any(t["function"]["name"] == name for t in tools):
        raise DataError(f"model {model_id!r} has no tool {name!r} among the row's tools")
    return name


def _call(name: str, arguments: Mapping[str, Any], call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": dict(arguments)}}


def trace_messages(
    row: Mapping[str, Any], target: str, tools: Sequence[Mapping[str, Any]], config: TraceConfig, answer: str | None
) -> list[dict[str, Any]]:
    """The whole conversation of one trace: the row's prompt, then the router's target turns."""
    messages = [{"role": m["role"], "content": m["content"]} for m in row["prompt"]]
    note = f"<think>Task: {row['data_source']}.</think>\n" if config.think else ""
    name = tool_name(target, tools)
    messages.append(
        {
            "role": "assistant",
            "content": note,
            "tool_calls": [_call(name, {"optimized_system_prompt": config.call_prompt}, "call_0")],
        }
    )
    if row["extra_info"].get("mode", "agent") == "agent":
        if answer is None:
            raise UsageError("agent-mode traces need the recorded answers: pass the outcome tables (--outcomes)")
        messages.append({"role": "tool", "content": answer, "tool_call_id": "call_0"})
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [_call(SELECT_TOOL_NAME, {"model_call_name": name}, "call_1")],
            }
        )
    return messages


def build_traces(
    rows: Iterable[Mapping[str, Any]],
    tools_for: Callable[[Mapping[str, Any]], list[dict[str, Any]]],
    config: TraceConfig,
    answers: AnswerLookup | None = None,
) -> list[dict[str, Any]]:
    """One trace per row outside the held-out split: {messages, tools, query_id, target, data_source}."""
    kept = []
    for row in rows:
        row = {**row, "extra_info": _plain(row["extra_info"]), "prompt": _plain(row["prompt"])}
        qid = str(row["extra_info"].get("query_id", row["where"]))
        if not in_split(qid, "fit", holdout=config.holdout, seed=config.split_seed):
            continue
        kept.append(row)
    table = task_table(kept, config.reward) if config.target != "uniform" else {}
    rng = random.Random(config.seed)
    traces = []
    for row in (r for r in kept for _ in range(config.per_row)):
        qid = str(row["extra_info"]["query_id"])
        target = pick_target(row, config, table, rng)
        tools = tools_for(row)
        answer = answers(qid, target) if answers is not None and row["extra_info"].get("mode") == "agent" else None
        messages = trace_messages(row, target, tools, config, answer)
        traces.append(
            {
                "messages": json.dumps(messages, ensure_ascii=False),
                "tools": json.dumps(tools, ensure_ascii=False),
                "query_id": qid,
                "data_source": str(row["data_source"]),
                "target": target,
            }
        )
    return traces
