"""Router training rows for verl: one guru-style source row plus a model pool -> one verl parquet row.

Row contract (read by the verl plugin's agent loop, tools and reward):

* `prompt` = `router_messages(user_messages, mode, max_system_prompt_length, cost_lambda)` (the one shared
  rule; `cost_lambda` only for rows that carry their own λ);
* `data_source`, `ability`, `reward_model` and every other input column are kept;
* `agent_name` = "xrouter_agent";
* `extra_info` = the original extra_info fields plus `index` (row number in the output file),
  `query_id`, `user_messages`, `need_tools_kwargs`, `tools_kwargs`, `tool_selection`, `model_pool`,
  `model_set_type`, `mode`, `version` and `source_row`, plus `cost_lambda` (the row's λ, read by
  `compute_score`) when preprocessing drew one per row. Rows without it are scored with the trainer
  config's λ, and their prompt does not mention λ.

Parquet cannot store a struct without fields, and a struct column holds the union of the keys of all
rows. So on disk `tools_kwargs` has one field per tool that any row of the file can get (every model
of the tiers with a max above 0, plus the fixed sets in use): tools outside the row's pool read back as
None, and `select_response` reads back as `{"create_kwargs": {"model_id": None}}`.
`decode_tools_kwargs` turns what verl hands over back into the contract form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import pyarrow as pa

from xrouter.catalog import SELECT_TOOL_NAME, tool_name_for
from xrouter.engine.prompts import Mode, content_text, router_messages
from xrouter.errors import DataError

AGENT_NAME = "xrouter_agent"
REQUIRED_COLUMNS = ("data_source", "prompt", "reward_model")
# extra_info keys this module writes (an input field with the same name is replaced).
OWN_EXTRA_FIELDS = (
    "index",
    "query_id",
    "user_messages",
    "need_tools_kwargs",
    "tools_kwargs",
    "tool_selection",
    "model_pool",
    "model_set_type",
    "mode",
    "version",
    "source_row",
    "cost_lambda",
)
MESSAGE_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
# Tool names are derived per row; caching the slug regex keeps large runs fast.
_tool_name = lru_cache(maxsize=4096)(tool_name_for)
_CREATE_TYPE = pa.struct([("create_kwargs", pa.struct([("model_id", pa.string())]))])


def user_messages_of(prompt: Any, where: str) -> list[dict[str, str]]:
    """The user's conversation from a guru `prompt` cell as plain {role, content} messages."""
    if isinstance(prompt, str) or not isinstance(prompt, Sequence) or len(prompt) == 0:
        raise DataError(f"{where}: 'prompt' must be a non-empty list of chat messages")
    messages = []
    for i, message in enumerate(prompt):
        if not isinstance(message, Mapping) or "role" not in message:
            raise DataError(f"{where}: prompt[{i}] is not a chat message with 'role' and 'content'")
        try:
            text = content_text(message.get("content"))
        except ValueError as exc:
            raise DataError(f"{where}: prompt[{i}]: {exc}") from None
        messages.append({"role": str(message["role"]), "content": text})
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        raise DataError(f"{where}: empty prompt (no user message with text)")
    return messages


def query_id_of(row: Mapping[str, Any], extra: Mapping[str, Any], file_stem: str, source_row: int) -> str:
    """Stable query id: extra_info.query_id, else `<data_source>.<extra_info.index>`, else `<file>.<row>`."""
    if extra.get("query_id") not in (None, ""):
        return str(extra["query_id"])
    if extra.get("index") is not None:
        return f"{row.get('data_source')}.{extra['index']}"
    return f"{file_stem}.{source_row}"


def tools_kwargs_for(model_ids: Sequence[str], mode: Mode) -> dict[str, dict[str, Any]]:
    """Contract form of tools_kwargs: create_kwargs {model_id} per pooled model, plus select_response."""
    kwargs: dict[str, dict[str, Any]] = {_tool_name(m): {"create_kwargs": {"model_id": m}} for m in model_ids}
    if mode == "agent":
        kwargs[SELECT_TOOL_NAME] = {"create_kwargs": {}}
    return kwargs


def decode_tools_kwargs(tools_kwargs: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Contract form of a tools_kwargs value read back from parquet (drops absent tools and null kwargs)."""
    decoded: dict[str, dict[str, Any]] = {}
    for name, entry in (tools_kwargs or {}).items():
        if entry is None:
            continue
        create = entry.get("create_kwargs") or {}
        decoded[name] = {"create_kwargs": {k: v for k, v in create.items() if v is not None}}
    return decoded


def _check_labels(source: Mapping[str, Any], where: str) -> None:
    """The reward needs a data_source and a reward_model whose ground_truth is set (it may be empty)."""
    if not isinstance(source.get("data_source"), str) or not source["data_source"].strip():
        raise DataError(f"{where}: 'data_source' must be a non-empty string, got {source.get('data_source')!r}")
    reward_model = source.get("reward_model")
    if not isinstance(reward_model, Mapping) or reward_model.get("ground_truth") is None:
        raise DataError(
            f"{where}: 'reward_model' must be a mapping with a ground_truth (may be ''), got {reward_model!r}"
        )


def build_row(
    source: Mapping[str, Any],
    *,
    where: str,
    file_stem: str,
    source_row: int,
    index: int,
    version: int,
    model_set_type: str,
    pool: Sequence[str],
    mode: Mode,
    max_system_prompt_length: int,
    cost_lambda: float | None = None,
) -> dict[str, Any]:
    """One verl training row (contract form) from one guru-style source row (with its own λ, if given)."""
    user_messages = user_messages_of(source.get("prompt"), where)
    try:
        prompt = router_messages(user_messages, mode, max_system_prompt_length, cost_lambda)
    except ValueError as exc:
        raise DataError(f"{where}: {exc}") from None
    extra = source.get("extra_info") or {}
    if not isinstance(extra, Mapping):
        raise DataError(f"{where}: 'extra_info' must be a mapping, got {type(extra).__name__}")
    _check_labels(source, where)
    recorded = extra.get("recorded_models")
    if recorded is not None:
        missing = [m for m in pool if m not in set(recorded)]
        if missing:
            raise DataError(
                f"{where}: model(s) {', '.join(missing)} have no recorded outcome for this query; draw pools from "
                "the replay catalog only (--catalog xrouter/resources/routerbench_models.yaml --catalog-only)"
            )
    row = {k: v for k, v in source.items() if k not in ("prompt", "extra_info", "agent_name")}
    row["prompt"] = prompt
    row["agent_name"] = AGENT_NAME
    row["extra_info"] = {
        **{k: v for k, v in extra.items() if k not in OWN_EXTRA_FIELDS},
        "index": index,
        "query_id": query_id_of(source, extra, file_stem, source_row),
        "user_messages": user_messages,
        "need_tools_kwargs": True,
        "tools_kwargs": tools_kwargs_for(pool, mode),
        "tool_selection": [_tool_name(m) for m in pool],
        "model_pool": list(pool),
        "model_set_type": model_set_type,
        "mode": mode,
        "version": version,
        "source_row": source_row,
    }
    if cost_lambda is not None:
        row["extra_info"]["cost_lambda"] = float(cost_lambda)
    return row


def encode_for_parquet(row: dict[str, Any]) -> dict[str, Any]:
    """Make a contract-form row storable (select_response's empty create_kwargs gets a null model_id)."""
    tools = row["extra_info"]["tools_kwargs"]
    if SELECT_TOOL_NAME in tools:
        tools[SELECT_TOOL_NAME] = {"create_kwargs": {"model_id": None}}
    return row


def tools_kwargs_type(model_ids: Sequence[str], mode: Mode) -> pa.DataType:
    """Arrow type of `extra_info.tools_kwargs`: a field per possible model's tool (plus select_response)."""
    names = [tool_name_for(m) for m in model_ids]
    if mode == "agent":
        names.append(SELECT_TOOL_NAME)
    return pa.struct([(name, _CREATE_TYPE) for name in names])


def _usable(t: pa.DataType) -> bool:
    return not (pa.types.is_struct(t) and t.num_fields == 0)


def output_schema(
    input_schema: pa.Schema, model_ids: Sequence[str], mode: Mode, per_row_lambda: bool = False
) -> pa.Schema:
    """Arrow schema of the output file from the input file's schema and every model a pool can hold."""
    extra_fields: list[pa.Field] = []
    if "extra_info" in input_schema.names:
        extra_type = input_schema.field("extra_info").type
        if pa.types.is_struct(extra_type):
            extra_fields = [f for f in extra_type if f.name not in OWN_EXTRA_FIELDS and _usable(f.type)]
    extra_fields += [
        pa.field("index", pa.int64()),
        pa.field("query_id", pa.string()),
        pa.field("user_messages", MESSAGE_TYPE),
        pa.field("need_tools_kwargs", pa.bool_()),
        pa.field("tools_kwargs", tools_kwargs_type(model_ids, mode)),
        pa.field("tool_selection", pa.list_(pa.string())),
        pa.field("model_pool", pa.list_(pa.string())),
        pa.field("model_set_type", pa.string()),
        pa.field("mode", pa.string()),
        pa.field("version", pa.int64()),
        pa.field("source_row", pa.int64()),
    ]
    if per_row_lambda:
        extra_fields.append(pa.field("cost_lambda", pa.float64()))
    fields: list[pa.Field] = []
    for f in input_schema:
        if f.name == "prompt":
            fields.append(pa.field("prompt", MESSAGE_TYPE))
        elif f.name == "extra_info":
            fields.append(pa.field("extra_info", pa.struct(extra_fields)))
        elif f.name != "agent_name" and _usable(f.type):
            fields.append(f)
    if "extra_info" not in input_schema.names:
        fields.append(pa.field("extra_info", pa.struct(extra_fields)))
    fields.append(pa.field("agent_name", pa.string()))
    return pa.schema(fields)


def check_columns(schema: pa.Schema, where: str) -> None:
    """Raise DataError naming the file when a required guru column is missing or it already holds router rows."""
    missing = [c for c in REQUIRED_COLUMNS if c not in schema.names]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)} (guru rows need data_source, prompt, reward_model)"
        )
    extra_type = schema.field("extra_info").type if "extra_info" in schema.names else None
    if (
        extra_type is not None
        and pa.types.is_struct(extra_type)
        and {"user_messages", "model_pool"} <= set(extra_type.names)
    ):
        raise DataError(
            f"{where}: already holds router training rows (extra_info has user_messages and model_pool); "
            "pass the guru-style source rows instead"
        )
