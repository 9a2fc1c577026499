"""Fixtures for the call layer: RouterBench replay data, the replay server and a scripted failure server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from xrouter.catalog import Catalog, load_catalog
from xrouter.data.outcomes import OutcomeTable, load_outcomes
from xrouter.llm.client import RetryConfig
from xrouter.llm.replay import ReplayStore, create_replay_app
from xrouter.serve.background import BackgroundServer

# Tiny backoffs keep failure tests fast; the generous total budget absorbs LiteLLM's cold start on a loaded CPU.
FAST_RETRY = RetryConfig(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, total_timeout_s=60.0, jitter=0.5)


OPENAI_PREFIXED = """
models:
  - {id: gpt-5, litellm_model: openai/gpt-5}
  - {id: gpt-5-mini, litellm_model: openai/gpt-5-mini}
  - {id: gpt-4o, litellm_model: openai/gpt-4o}
"""


@pytest.fixture(scope="session")
def catalog(tmp_path_factory) -> Catalog:
    """Shipped catalog with openai/ ids (so an api_base makes them OpenAI-compatible endpoints)."""
    path = tmp_path_factory.mktemp("catalog") / "override.yaml"
    path.write_text(OPENAI_PREFIXED)
    return load_catalog(path, use_env=False)


@pytest.fixture(scope="session")
def mbpp_table(shared_data) -> OutcomeTable:
    """RouterBench MBPP train slice as a long outcome table (299 queries x 11 models)."""
    return load_outcomes(shared_data / "routerbench_slices" / "mbpp_train.csv")


@pytest.fixture(scope="session")
def replay_store(mbpp_table) -> ReplayStore:
    """Replay store over the MBPP slice."""
    return ReplayStore(mbpp_table)


@pytest.fixture(scope="session")
def replay_server(replay_store) -> Iterator[BackgroundServer]:
    """The replay app on a free 127.0.0.1 port for the whole session."""
    with BackgroundServer(create_replay_app(replay_store)) as server:
        yield server


@dataclass
class Script:
    """What the scripted server does for the next requests (one step per request, then 'ok')."""

    steps: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)  # requests being answered, per model
    peak: dict[str, int] = field(default_factory=dict)  # most requests in flight at once, per model ("*": all)

    def reset(self, *steps: str) -> None:
        """Load new steps and forget recorded requests."""
        self.steps[:] = list(steps)
        self.requests.clear()
        self.headers.clear()
        self.in_flight.clear()
        self.peak.clear()

    def enter(self, model: str) -> None:
        """Count one more request in flight for `model` and overall."""
        for name in (model, "*"):
            self.in_flight[name] = self.in_flight.get(name, 0) + 1
            self.peak[name] = max(self.peak.get(name, 0), self.in_flight[name])

    def leave(self, model: str) -> None:
        """One request of `model` answered."""
        for name in (model, "*"):
            self.in_flight[name] -= 1


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    last = next((m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "?"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": f"echo: {last}"}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 500,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 400},
            "completion_tokens_details": {"reasoning_tokens": 300},
        },
    }


def _error(status: int, message: str, retry_after: str = "0") -> JSONResponse:
    body = {"error": {"message": message, "type": "scripted", "param": None, "code": str(status)}}
    return JSONResponse(body, status_code=status, headers={"retry-after": retry_after} if status == 429 else None)


def scripted_app(script: Script) -> FastAPI:
    """OpenAI-compatible server that fails on purpose, following `script`."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Response:
        body = await request.json()
        script.requests.append(body)
        script.headers.append(dict(request.headers))
        step = script.steps.pop(0) if script.steps else "ok"
        if step.startswith("slow:"):
            model = str(body.get("model"))
            script.enter(model)
            try:
                await asyncio.sleep(float(step.split(":", 1)[1]))
            finally:
                script.leave(model)
            step = "ok"
        if step == "ok":
            return JSONResponse(_ok(body))
        if step.isdigit():
            return _error(int(step), f"scripted failure {step}")
        if step.startswith("429:"):  # rate limit asking to wait the given seconds
            return _error(429, "slow down", retry_after=step.split(":", 1)[1])
        if step == "malformed":
            return Response(b'{"id": "x", "choices": [ {not json', media_type="application/json")
        if step == "truncated":  # declares more bytes than it sends, then the connection ends
            return Response(b'{"id": "x", "cho', media_type="application/json", headers={"content-length": "4000"})
        raise AssertionError(f"unknown script step {step!r}")

    return app


@pytest.fixture(scope="session")
def _scripted(request) -> Iterator[tuple[BackgroundServer, Script]]:
    script = Script()
    with BackgroundServer(scripted_app(script)) as server:
        yield server, script


@pytest.fixture
def scripted(_scripted) -> tuple[str, Script]:
    """(base URL with /v1, script) of the failure-injection server, script reset for this test."""
    server, script = _scripted
    script.reset()
    return f"{server.url}/v1", script
