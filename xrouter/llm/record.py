"""Record mode: wrap any `ModelCaller` so every successful call lands in an xrouter outcome table.

    recorder = Recorder(LLMClient(catalog), "outcomes.parquet", dataset="my-eval")
    await recorder.call("gpt-5-mini", messages, query_id="q1")   # a normal call, also recorded
    recorder.close()                                             # compacts the journal into the parquet

Rows follow the outcome-table schema of `xrouter.data.outcomes` (dataset, query_id, query_text, model,
response, cost_usd, score, input_tokens, output_tokens, cached_input_tokens); `score` is left empty
(NaN) for a scorer to fill. Each row is first appended to a JSONL journal (`<out>.journal.jsonl`, one
`os.write` per row, so a crash loses at most one row); `close()` merges the journal into the parquet
atomically. A `.jsonl` output is the journal itself. The first answer per (query_id, model) wins, so a
later replay of the table is deterministic. Without a `query_id`, the id is `q-` plus a hash of the
normalised last user message, the same text the replay store matches on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from xrouter.data.outcomes import COLUMNS, load_outcome_table, normalize_text
from xrouter.engine.prompts import content_text
from xrouter.errors import DataError
from xrouter.io import atomic_path
from xrouter.llm.ledger import append_line
from xrouter.llm.types import CallResult, ModelCaller

logger = logging.getLogger(__name__)


def query_id_for_text(text: str) -> str:
    """Stable query id of a query text (hash of its normalised form)."""
    return "q-" + hashlib.sha1(normalize_text(text).encode("utf-8")).hexdigest()[:16]


def _last_user_raw(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            try:
                return content_text(message.get("content"))
            except ValueError:
                return ""
    return ""


class Recorder:
    """A `ModelCaller` that forwards to `caller` and records each successful answer as an outcome row."""

    def __init__(self, caller: ModelCaller, path: str | Path, *, dataset: str = "recorded") -> None:
        self.caller = caller
        self.path = Path(path)
        self.dataset = dataset
        if self.path.suffix not in (".parquet", ".jsonl"):
            raise DataError(f"{self.path}: record output must end in .parquet or .jsonl")
        self.journal = (
            self.path if self.path.suffix == ".jsonl" else self.path.with_name(self.path.name + ".journal.jsonl")
        )
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str]] = set()
        for existing in (self.path, self.journal):
            if existing.exists() and existing.stat().st_size > 0:
                frame = _read_rows(existing)
                self._seen.update(zip(frame["query_id"].astype(str), frame["model"].astype(str), strict=True))
        try:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataError(f"{self.journal}: cannot open the record journal for appending ({exc.strerror})") from None
        self._unpriced: set[str] = set()
        self.recorded = 0

    async def call(
        self,
        model_id: str,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout_s: float | None = None,
        request_id: str | None = None,
        query_id: str | None = None,
    ) -> CallResult:
        """Forward the call; record it when it succeeded and is new for (query_id, model)."""
        result = await self.caller.call(
            model_id,
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout_s=timeout_s,
            request_id=request_id,
            query_id=query_id,
        )
        if result.success:
            self.record(result, messages, query_id)
        return result

    def record(self, result: CallResult, messages: list[dict[str, Any]], query_id: str | None = None) -> bool:
        """Append one successful result as an outcome row; False when (query_id, model) is already recorded."""
        text = _last_user_raw(messages)
        qid = str(query_id) if query_id is not None else query_id_for_text(text)
        row = {
            "dataset": self.dataset,
            "query_id": qid,
            "query_text": text,
            "model": result.model_id,
            "response": result.text,
            "cost_usd": result.cost_usd,
            "score": None,
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
            "cached_input_tokens": result.usage.cached_input_tokens,
        }
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if (qid, result.model_id) in self._seen or self._fd < 0:
                return False
            if result.cost_usd is None and result.model_id not in self._unpriced:
                # Replay serves only rows with a cost: such rows stay in the table but cannot be replayed.
                self._unpriced.add(result.model_id)
                logger.warning("%s has no catalog price: its rows get no cost and will not replay", result.model_id)
            self._seen.add((qid, result.model_id))
            append_line(self._fd, line)
            self.recorded += 1
        return True

    def close(self) -> Path:
        """Stop recording; for a parquet output, merge the journal into it atomically. Returns the output path."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        if self.journal == self.path or not self.journal.exists():
            return self.path
        parts = [_read_rows(p) for p in (self.path, self.journal) if p.exists() and p.stat().st_size > 0]
        if parts:
            merged = pd.concat(parts, ignore_index=True).drop_duplicates(["query_id", "model"], keep="first")
            with atomic_path(self.path) as tmp:
                merged[COLUMNS].to_parquet(tmp, index=False)
        self.journal.unlink()
        logger.info("recorded outcomes written to %s", self.path)
        return self.path

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_rows(path: Path) -> pd.DataFrame:
    """Rows of an outcome parquet or a (possibly crash-truncated) JSONL journal."""
    if path.suffix == ".parquet":
        return load_outcome_table(path)
    rows = []
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("%s: skipping a torn journal line", path)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
    return frame
