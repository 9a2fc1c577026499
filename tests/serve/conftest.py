"""Servers for the API tests: the replay server (targets), a scripted router, and `xrouter serve` itself.

All run on 127.0.0.1 through `BackgroundServer`. Targets are reached through the call layer (`LLMClient`
with `target_api_base` = the replay server, which it POSTs to directly as an OpenAI-compatible endpoint),
so every target call is a real HTTP round trip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import xrouter
from xrouter.data.outcomes import OutcomeTable, load_outcomes
from xrouter.llm.replay import ROUTERBENCH_CATALOG, ReplayStore, create_replay_app
from xrouter.serve.app import create_app
from xrouter.serve.background import BackgroundServer
from xrouter.serve.scripted_router import create_scripted_router_app
from xrouter.serve.state import ServeSettings

API_KEY = "sk-test-key"
MODELS = ("gpt-4-1106-preview", "mistralai/mistral-7b-chat", "gpt-3.5-turbo-1106")
TOOL = {
    "gpt-4-1106-preview": "call_gpt_4_1106_preview",
    "mistralai/mistral-7b-chat": "call_mistralai_mistral_7b_chat",
    "gpt-3.5-turbo-1106": "call_gpt_3_5_turbo_1106",
}
ROUTER_PRICE = (1.0, 2.0)  # USD per 1M router tokens; the scripted router reports 100 in / 20 out per turn
ROUTER_TURN_COST = (100 * 1.0 + 20 * 2.0) / 1e6


@dataclass
class Scripts:
    """Per-query router scripts, looked up by the query text the router sees."""

    by_query: dict[str, Any]

    def __call__(self, query: str, turn: int, messages: list[dict[str, Any]]) -> dict[str, Any]:
        script = self.by_query.get(query)
        if script is None:
            return {"content": f"no script for {query[:40]!r}"}
        return script(query, turn, messages) if callable(script) else script[turn - 1]


@pytest.fixture(scope="session")
def arc_table(shared_data: Path) -> OutcomeTable:
    """RouterBench ARC-Challenge train outcomes."""
    return load_outcomes([shared_data / "routerbench_slices" / "arc_challenge_train.csv"])


@pytest.fixture(scope="session")
def recorded(arc_table: OutcomeTable) -> dict[tuple[str, str], tuple[str, float]]:
    """(query text, model) -> (recorded response, recorded cost)."""
    frame = arc_table.frame
    return {
        (q, m): (r, float(c))
        for q, m, r, c in zip(frame.query_text, frame.model, frame.response, frame.cost_usd, strict=True)
        if isinstance(r, str) and c == c
    }


@pytest.fixture(scope="session")
def queries(arc_table: OutcomeTable, recorded) -> list[str]:
    """Query texts with a recorded answer from every served model."""
    texts = list(dict.fromkeys(arc_table.frame.query_text))
    return [q for q in texts if all((q, m) in recorded for m in MODELS)]


@pytest.fixture(scope="session")
def replay_url(arc_table: OutcomeTable) -> Iterator[str]:
    """Base URL (…/v1) of the replay server answering target calls."""
    with BackgroundServer(create_replay_app(ReplayStore(arc_table))) as server:
        yield f"{server.url}/v1"


@pytest.fixture(scope="session")
def scripts() -> Scripts:
    """The mutable script table of the scripted router (tests add entries keyed by query text)."""
    return Scripts({})


@pytest.fixture(scope="session")
def router_url(scripts: Scripts) -> Iterator[str]:
    """Base URL (…/v1) of the scripted router."""
    with BackgroundServer(create_scripted_router_app(scripts)) as server:
        yield f"{server.url}/v1"


def make_settings(router_url: str, replay_url: str, ledger: Path, **overrides: Any) -> ServeSettings:
    """Settings of a test router server (targets through the call layer to the replay server)."""
    catalog_file = Path(xrouter.__file__).parent / "resources" / ROUTERBENCH_CATALOG
    values: dict[str, Any] = {
        "models": MODELS,
        "router_model": "scripted-router",
        "router_api_base": router_url,
        "router_price_in": ROUTER_PRICE[0],
        "router_price_out": ROUTER_PRICE[1],
        "catalog_files": (str(catalog_file),),
        "target_api_base": replay_url,
        "target_timeout_s": 20.0,
        "ledger_path": str(ledger),
        "api_key": API_KEY,
        "max_body_bytes": 64 * 1024,
    }
    values.update(overrides)
    return ServeSettings(**values)


@pytest.fixture(scope="session")
def ledger_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cost ledger of the shared test server."""
    return tmp_path_factory.mktemp("serve") / "ledger.jsonl"


@pytest.fixture(scope="session")
def server_url(router_url: str, replay_url: str, ledger_path: Path) -> Iterator[str]:
    """Base URL (no /v1) of the xrouter API server under test."""
    with BackgroundServer(create_app(make_settings(router_url, replay_url, ledger_path))) as server:
        yield server.url


@pytest.fixture
def auth() -> dict[str, str]:
    """The Authorization header of the test server."""
    return {"Authorization": f"Bearer {API_KEY}"}
