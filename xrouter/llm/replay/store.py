"""Answering calls from recorded outcomes: the lookup store and an in-process `ModelCaller`.

A request is matched to a recorded query by an explicit query id when one is given (RouterBench
`sample_id`, or the xrouter table's `query_id`), else by the text of its last user message after
whitespace normalisation. The model is matched by its name in the data; a provider prefix that
LiteLLM adds or keeps (`openai/`, `hosted_vllm/`, ...) is accepted too.

Usage of a replayed answer: recorded token counts when the table has them; otherwise they are counted
from the recorded texts (characters / 4 of the query and of the answer). The recorded cost itself is
always reported exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from xrouter.catalog.catalog import Catalog
from xrouter.catalog.pricing import Usage
from xrouter.data.outcomes import OutcomeTable, normalize_text
from xrouter.engine.prompts import content_text
from xrouter.errors import CatalogError, DataError
from xrouter.llm.charges import estimate_tokens
from xrouter.llm.replay.catalog import replay_catalog
from xrouter.llm.types import CallError, CallResult

PROVIDER_PREFIXES: tuple[str, ...] = ("openai/", "hosted_vllm/", "openrouter/", "litellm_proxy/", "custom_openai/")


class ReplayNotFound(DataError):
    """No recording for the requested query or model; `what` is 'query' or 'model'."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what


@dataclass(frozen=True)
class ReplayRecord:
    """One recorded answer, ready to be served."""

    query_id: str
    model: str
    text: str
    cost_usd: float
    usage: Usage
    score: float | None


def last_user_text(messages: Sequence[dict[str, Any]]) -> str:
    """Normalised text of the last user message ('' when there is none)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            try:
                return normalize_text(content_text(message.get("content")))
            except ValueError:
                return ""
    return ""


def derive_usage(query_text: str, row: Any) -> Usage:
    """Token counts of a recorded answer: the recorded counts, else counted from the recorded texts.

    Counting (characters / 4) keeps a short answer from showing 0 completion tokens, whatever it cost;
    the cost itself is always the recorded one.
    """
    rec_in, rec_out, rec_cached = row.input_tokens, row.output_tokens, row.cached_input_tokens
    if rec_in == rec_in and rec_out == rec_out:  # not NaN
        cached = int(rec_cached) if rec_cached == rec_cached else 0
        return Usage(int(rec_in), int(rec_out), min(cached, int(rec_in)))
    return Usage(estimate_tokens(query_text), estimate_tokens(str(row.response)))


class ReplayStore:
    """Recorded (query x model) answers indexed by query id and by normalised query text."""

    def __init__(self, table: OutcomeTable, catalog: Catalog | None = None) -> None:
        self.table = table
        self.catalog = catalog if catalog is not None else replay_catalog(table)
        self._records: dict[tuple[str, str], ReplayRecord] = {}
        self._by_text: dict[str, str] = {}
        self._queries: set[str] = set()
        self._models = table.models
        for row in table.frame.itertuples(index=False):
            query_id, model = str(row.query_id), str(row.model)
            self._queries.add(query_id)
            self._by_text.setdefault(normalize_text(str(row.query_text)), query_id)
            if row.cost_usd != row.cost_usd or not isinstance(row.response, str):  # no outcome recorded
                continue
            score = None if row.score != row.score else float(row.score)
            usage = derive_usage(str(row.query_text), row)
            record = ReplayRecord(query_id, model, str(row.response), float(row.cost_usd), usage, score)
            self._records[(query_id, model)] = record

    @property
    def models(self) -> list[str]:
        """Model names in the data, in first-seen order."""
        return list(self._models)

    def __len__(self) -> int:
        return len(self._records)

    @property
    def num_queries(self) -> int:
        """Number of distinct recorded queries."""
        return len(self._queries)

    def model_name(self, requested: str) -> str:
        """The data's name for a requested model (provider prefixes tolerated); ReplayNotFound otherwise."""
        if requested in self._models:
            return requested
        for prefix in PROVIDER_PREFIXES:
            if requested.startswith(prefix) and requested[len(prefix) :] in self._models:
                return requested[len(prefix) :]
        raise ReplayNotFound(
            "model", f"model {requested!r} is not in the replay data; known: {', '.join(self._models)}"
        )

    def query_id_for(self, messages: Sequence[dict[str, Any]], query_id: str | None = None) -> str:
        """The recorded query a request refers to (explicit id first, else last user message text)."""
        if query_id is not None:
            if str(query_id) in self._queries:
                return str(query_id)
            raise ReplayNotFound("query", f"query id {query_id!r} is not in the replay data")
        text = last_user_text(messages)
        found = self._by_text.get(text)
        if found is None:
            preview = text[:80] + ("..." if len(text) > 80 else "")
            raise ReplayNotFound("query", f"no recorded query matches the last user message {preview!r}")
        return found

    def lookup(self, model: str, messages: Sequence[dict[str, Any]], query_id: str | None = None) -> ReplayRecord:
        """The recorded answer of `model` to the request; ReplayNotFound naming what is missing."""
        name = self.model_name(model)
        qid = self.query_id_for(messages, query_id)
        record = self._records.get((qid, name))
        if record is None:
            raise ReplayNotFound("query", f"no recorded outcome of model {name!r} for query {qid!r}")
        return record


class ReplayCaller:
    """In-process `ModelCaller` answering from a `ReplayStore` (no HTTP, no money spent)."""

    supports_streaming = True  # `call` takes `on_delta` (the recorded answer is handed on in one piece)

    def __init__(self, store: ReplayStore, catalog: Catalog | None = None) -> None:
        self.store = store
        self.catalog = catalog if catalog is not None else store.catalog

    def _names(self, model_id: str) -> tuple[str, str]:
        """(catalog id reported in the result, model name to look up in the data)."""
        try:
            spec = self.catalog.resolve(model_id)
        except CatalogError:
            return model_id, model_id
        return spec.id, spec.id if spec.id in self.store.models else spec.litellm_model

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
        on_delta: Callable[[str], None] | None = None,
    ) -> CallResult:
        """The recorded answer as a `CallResult` (cost = recorded cost, spent 0); not found → failure."""
        started = time.perf_counter()
        model_id, data_name = self._names(model_id)
        try:
            record = self.store.lookup(data_name, messages, query_id)
        except ReplayNotFound as exc:
            return _failed(model_id, CallError("not_found", str(exc), 404), request_id)
        except (TypeError, ValueError, AttributeError) as exc:  # messages that are not a list of chat messages
            return _failed(model_id, CallError("bad_request", f"cannot read the request messages ({exc})"), request_id)
        if on_delta is not None and record.text:
            on_delta(record.text)
        return CallResult(
            model_id=model_id,
            text=record.text,
            success=True,
            usage=record.usage,
            cost_usd=record.cost_usd,
            spent_usd=0.0,
            latency_s=time.perf_counter() - started,
            provider="replay",
            finish_reason="stop",
            request_id=request_id,
        )


def _failed(model_id: str, error: CallError, request_id: str | None) -> CallResult:
    """A replay call that found nothing to answer with."""
    return CallResult(model_id, "", False, provider="replay", error=error, request_id=request_id)
