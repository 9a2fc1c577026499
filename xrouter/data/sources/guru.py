"""Reasoning360 "guru" parquet files (e.g. `LLM360/guru-RL-92k`) -> the same rows with a stable query id.

Guru rows already have the training shape (`data_source` such as `math__deepscaler_preview`, `prompt`,
`ability`, `reward_model`, `extra_info`). This adapter streams each file by row group, checks the
required columns and every prompt, and adds `extra_info.query_id` = `<data_source>.<extra_info.index>`
(or `<file>.<row>` when there is no index) so that replay and the reward can join on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from xrouter.data.reader import open_source
from xrouter.data.rows import check_columns, query_id_of, user_messages_of


def rows(path: Path, batch_size: int = 2000) -> Iterator[dict[str, Any]]:
    """Validated guru rows of one parquet/JSONL file, each with `extra_info.query_id`."""
    source = open_source(path)
    check_columns(source.schema, str(path))
    for first, batch in source.batches(batch_size):
        for offset, row in enumerate(batch.to_pylist()):
            n = first + offset
            user_messages_of(row.get("prompt"), source.where(n))  # validates the prompt
            extra = dict(row.get("extra_info") or {})
            extra["query_id"] = query_id_of(row, extra, path.stem, n)
            yield {**row, "extra_info": extra}


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    """The input schema with a string `query_id` in `extra_info` (added when missing)."""
    fields = []
    for f in input_schema:
        if f.name == "extra_info" and pa.types.is_struct(f.type) and "query_id" not in f.type.names:
            f = pa.field("extra_info", pa.struct([*f.type, pa.field("query_id", pa.string())]))
        fields.append(f)
    if "extra_info" not in input_schema.names:
        fields.append(pa.field("extra_info", pa.struct([pa.field("query_id", pa.string())])))
    return pa.schema(fields)
