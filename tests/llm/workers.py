"""Process targets for the multi-process cache and ledger tests.

Kept apart from the test modules so that spawned children import only the call layer, not the
test fixtures (FastAPI, pandas): each child then starts in well under a second.
"""

from __future__ import annotations

from pathlib import Path

from xrouter.catalog.pricing import Usage
from xrouter.llm.cache import ResponseCache
from xrouter.llm.ledger import Ledger
from xrouter.llm.types import CallResult


def result(text: str = "7", cost: float = 0.002) -> CallResult:
    """A successful call result with fixed usage and cost."""
    return CallResult("gpt-4o", text, True, usage=Usage(10, 5), cost_usd=cost, spent_usd=cost, provider="openai")


def write_cache_entries(path: str, worker: int, count: int) -> None:
    """Store `count` entries keyed `<worker>-<i>`; fail the process if any store is refused."""
    cache = ResponseCache(path)
    for i in range(count):
        assert cache.put(f"{worker}-{i}", result(text=f"{worker}-{i}"))


def write_cache_forever(path: str) -> None:
    """Store large entries until killed."""
    cache = ResponseCache(path)
    i = 0
    while True:
        cache.put(f"k{i}", result(text="x" * 2000))
        i += 1


def append_ledger_forever(path: str, worker: int) -> None:
    """Append ledger lines of 1-2 KB until killed; creates `<path>.<worker>.busy` after its first 200 lines."""
    ledger = Ledger(path)
    i = 0
    while True:
        ledger.append(result(text="x"), request_id=f"{worker}-{i}", note="y" * (1000 + 37 * worker))
        i += 1
        if i == 200:
            Path(f"{path}.{worker}.busy").touch()
