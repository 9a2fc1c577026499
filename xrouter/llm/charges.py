"""What a successful call is charged, when the provider's own accounting is missing or implausible.

* **Usage**: the provider's token counts. When it sent none (or none usable: not an object, counts that are not
  whole numbers, zero tokens for a non-empty answer), tokens are estimated from the texts, `ceil(characters / 4)`
  of the prompt messages and of the answer, and the call is marked `estimated`. Never $0 for a paid answer.
* **Cost**: a provider-reported `usage.cost` is kept when it is plausible: at most `COST_BOUND` (100) times the
  catalog price of the counted tokens. Above that it is replaced by the catalog price and marked
  `cost_replaced`. Replayed answers are exempt: their cost is the recorded one, whatever the token counts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from xrouter.catalog.models import ModelSpec
from xrouter.catalog.pricing import Usage, cost_usd
from xrouter.llm.response import ParsedResponse

logger = logging.getLogger(__name__)
CHARS_PER_TOKEN = 4.0  # rough ratio for English text and code; used only where nothing was counted
COST_BOUND = 100.0


def estimate_tokens(text: str) -> int:
    """Rough token count of `text`: characters / 4, at least 1."""
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def message_chars(messages: Sequence[dict[str, Any]]) -> int:
    """Characters of the text in chat messages (string content and text parts)."""
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(p.get("text") or "") for p in content if isinstance(p, dict))
    return total


@dataclass(frozen=True)
class Charge:
    """Usage and cost of one answered call, with how much of it is the provider's word."""

    usage: Usage
    cost_usd: float | None
    estimated: bool = False
    cost_replaced: bool = False


def _usable(usage: Usage | None, text: str) -> bool:
    if usage is None or usage.input_tokens == 0 and usage.output_tokens == 0:
        return False
    return usage.output_tokens > 0 or not text


def charge(spec: ModelSpec, parsed: ParsedResponse, messages: Sequence[dict[str, Any]], replayed: bool) -> Charge:
    """The usage and cost to record for a successful call of `spec` answered by `parsed`."""
    usage, estimated = parsed.usage, False
    if not _usable(usage, parsed.text):
        usage = Usage(
            input_tokens=math.ceil(message_chars(messages) / CHARS_PER_TOKEN) or 1,
            output_tokens=estimate_tokens(parsed.text),
        )
        estimated = True
    assert usage is not None
    catalog = cost_usd(spec, usage)
    reported = parsed.provider_cost_usd
    if reported is None:
        return Charge(usage, catalog, estimated)
    if replayed or not catalog or reported <= COST_BOUND * catalog:
        return Charge(usage, reported, estimated)
    logger.warning(
        "%s reported a cost of $%.6g for %d+%d tokens, over %gx the catalog price $%.6g: charging the catalog price",
        spec.id,
        reported,
        usage.input_tokens,
        usage.output_tokens,
        COST_BOUND,
        catalog,
    )
    return Charge(usage, catalog, estimated, cost_replaced=True)


def partial_charge(spec: ModelSpec, messages: Sequence[dict[str, Any]], delivered: str) -> Charge:
    """What a stream that broke after delivering `delivered` cost: the catalog price of the counted tokens."""
    usage = Usage(
        input_tokens=math.ceil(message_chars(messages) / CHARS_PER_TOKEN) or 1,
        output_tokens=estimate_tokens(delivered),
    )
    return Charge(usage, cost_usd(spec, usage), estimated=True)
