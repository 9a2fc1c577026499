"""The fault suite's servers: a misbehaving OpenAI-compatible upstream and `xrouter serve` in front of it.

The upstream (`xrouter.serve.fault_upstream`) is both the router and every target model; each request
picks its faults with `[[...]]` directives in its user message. The router API under test runs in-process
on 127.0.0.1 (`BackgroundServer`), with targets reached through the call layer over real HTTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from xrouter.llm.ledger import read_ledger
from xrouter.serve import fault_upstream
from xrouter.serve.app import create_app
from xrouter.serve.background import BackgroundServer
from xrouter.serve.protocol import server_options
from xrouter.serve.state import ServeSettings

API_KEY = "xr-server-key-0123456789"
SECRET = "sk-fault-provider-secret-abcdef123456"  # the provider key the catalog names through FAULT_API_KEY
ROUTER_PRICE = (1.0, 2.0)  # USD per 1M router tokens; the upstream reports 100 in / 20 out per answer
TURN_COST = (100 * 1.0 + 20 * 2.0) / 1e6
TARGET_COST = (100 * 1.0 + 20 * 2.0) / 1e6  # fault-a and fault-lite use the same prices
MODELS = ("fault-a", "fault-b", "fault-lite", "fault-free", "fault-c")
BOUND_S = 20.0  # "bounded time": generous, far above any expected answer time, far below "held forever"


@pytest.fixture(scope="session")
def upstream() -> Iterator[tuple[str, Any]]:
    """(base URL with /v1, app) of the fault upstream; `app.state.seen` holds what it received."""
    app = fault_upstream.create_fault_upstream_app()
    with BackgroundServer(app) as server:
        yield f"{server.url}/v1", app


@pytest.fixture(scope="session")
def fault_catalog(upstream, tmp_path_factory) -> Path:
    """The catalog file of the fault models, pointing at the upstream."""
    path = tmp_path_factory.mktemp("faults") / "catalog.yaml"
    path.write_text(fault_upstream.fault_catalog(upstream[0]))
    return path


@pytest.fixture(scope="session", autouse=True)
def provider_key() -> Iterator[str]:
    """The provider key in the environment, where the catalog's api_key_env points."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAULT_API_KEY", SECRET)
        yield SECRET


def fault_settings(upstream_url: str, catalog: Path, ledger: Path, **overrides: Any) -> ServeSettings:
    """Settings of a router server in front of the fault upstream (short timeouts, no cooldown)."""
    values: dict[str, Any] = {
        "models": MODELS[:4],
        "router_model": "fault-router",
        "router_api_base": upstream_url,
        "router_price_in": ROUTER_PRICE[0],
        "router_price_out": ROUTER_PRICE[1],
        "catalog_files": (str(catalog),),
        "target_timeout_s": 1.0,
        "router_timeout_s": 4.0,
        "request_timeout_s": 3.0,
        "ledger_path": str(ledger),
        "api_key": API_KEY,
        "cooldown_s": 0.0,  # off here, so that one test's failing model does not cool down for the next test
    }
    values.update(overrides)
    return ServeSettings(**values)


@dataclass
class Served:
    """A running router server with helpers to ask it, read its ledger and its metrics."""

    url: str
    ledger: Path
    upstream_app: Any

    def post(self, text: str, *, headers: dict[str, str] | None = None, **fields: Any) -> httpx.Response:
        """POST one user message (with directives) to /v1/chat/completions and check the time bound."""
        body = {"model": "router", "messages": [{"role": "user", "content": text}], **fields}
        return self.post_raw(body, headers=headers)

    def post_raw(self, body: Any, *, headers: dict[str, str] | None = None, content: bytes | None = None):
        """POST a JSON body (or raw bytes) and assert it was answered in bounded time."""
        sent = {"Authorization": f"Bearer {API_KEY}", **(headers or {})}
        started = time.monotonic()
        if content is not None:
            response = httpx.post(f"{self.url}/v1/chat/completions", content=content, headers=sent, timeout=60)
        else:
            response = httpx.post(f"{self.url}/v1/chat/completions", json=body, headers=sent, timeout=60)
        assert time.monotonic() - started < BOUND_S, "the request was not answered in bounded time"
        return response

    def request_line(self, response: httpx.Response) -> dict[str, Any] | None:
        """The ledger's `kind: request` line of the request that got `response`, if any."""
        request_id = response.headers.get("x-xrouter-request-id")
        assert request_id, "every chat-completions answer names its request id"
        lines = [r for r in read_ledger(self.ledger) if r.get("request_id") == request_id]
        requests = [r for r in lines if r.get("kind") == "request"]
        assert len(requests) <= 1
        return requests[0] if requests else None

    def call_lines(self, response: httpx.Response) -> list[dict[str, Any]]:
        """The call layer's per-call ledger lines of one request."""
        request_id = response.headers["x-xrouter-request-id"]
        return [r for r in read_ledger(self.ledger) if r.get("request_id") == request_id and "kind" not in r]

    def metrics(self) -> dict[str, float]:
        """/metrics as {'name{labels}': value}."""
        text = httpx.get(f"{self.url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).text
        return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", text, re.MULTILINE)}

    def assert_still_serving(self) -> None:
        """A plain request right after still gets a good answer."""
        response = self.post("Still serving? [[r1=text]]")
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "router answer"


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The OpenAI-style error of a response, checked for status, shape and code."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["code"] == code, error
    return error


def meta_of(response: httpx.Response) -> dict[str, Any]:
    """The router_metadata of a 200 chat.completion, checked for the completion's shape."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and isinstance(body["choices"][0]["message"]["content"], str)
    return body["router_metadata"]


@pytest.fixture(scope="session")
def make_served(upstream, fault_catalog, tmp_path_factory) -> Iterator[Callable[..., Served]]:
    """Start router servers with setting overrides; all are stopped at the end of the session."""
    started: list[BackgroundServer] = []

    def make(**overrides: Any) -> Served:
        ledger = tmp_path_factory.mktemp("served") / "ledger.jsonl"
        settings = fault_settings(upstream[0], fault_catalog, ledger, **overrides)
        server = BackgroundServer(create_app(settings), **server_options(settings)).start()
        started.append(server)
        return Served(server.url, ledger, upstream[1])

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def served(make_served) -> Served:
    """The shared router server of the fault suite."""
    return make_served()
