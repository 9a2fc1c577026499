"""Where the verl tools send target-model calls: live APIs, the response cache, or the replay server.

Each tool entry of the verl tool YAML carries a `config` mapping (validated by `ToolBackendConfig`);
keys left out fall back to environment variables read when the tool is constructed, so one YAML from
`xrouter tools --format verl` serves every backend:

| key | env fallback | meaning |
| --- | --- | --- |
| `backend` | `XROUTER_TOOL_BACKEND` | `live` (provider APIs), `cache` (live + on-disk response cache), `replay` |
| `api_base` | `XROUTER_TOOL_API_BASE` | base URL for every call (replay: `http://127.0.0.1:PORT/v1`) |
| `catalog` | `XROUTER_CATALOG` | catalog file merged over the shipped one (replay: the replay catalog) |
| `cache_path` | `XROUTER_CACHE_PATH` | SQLite response cache (backend `cache`) |
| `env_file` | `XROUTER_ENV_FILE` | `.env` file with provider keys, read by `live`/`cache` (default: `./.env` if present) |
| `timeout_s` | - | per-call timeout |

All tools of one worker process that share these settings share one `LLMClient` (and so its
per-model concurrency limits), created lazily inside the running event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from xrouter.errors import UsageError

logger = logging.getLogger(__name__)

Backend = Literal["live", "cache", "replay"]
_ENV = {
    "backend": "XROUTER_TOOL_BACKEND",
    "api_base": "XROUTER_TOOL_API_BASE",
    "catalog": "XROUTER_CATALOG",
    "cache_path": "XROUTER_CACHE_PATH",
    "env_file": "XROUTER_ENV_FILE",
}


class ToolBackendConfig(BaseModel):
    """Validated `config` of an xrouter verl tool.

    Args:
        type: verl tool type; always "native".
        model_id: catalog id the `call_<model>` tool calls (absent for `select_response`).
        backend: live, cache or replay.
        api_base: base URL sent with every call (required for replay).
        api_key: key sent with `api_base` (the replay server accepts any string).
        catalog: catalog YAML merged over the shipped catalog.
        cache_path: response-cache file for the cache backend.
        env_file: `.env` file of provider keys for the live and cache backends (never overrides set variables).
        timeout_s: per-call timeout in seconds.
        max_concurrency_per_model: concurrent calls per model in one worker process.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["native"] = "native"
    model_id: str | None = None
    backend: Backend = "live"
    api_base: str | None = None
    api_key: str | None = None
    catalog: str | None = None
    cache_path: str | None = None
    env_file: str | None = None
    timeout_s: float = 120.0
    max_concurrency_per_model: int = 16

    @classmethod
    def from_tool_config(cls, config: dict[str, Any], tool_name: str) -> ToolBackendConfig:
        """Validate a tool's YAML `config`, filling unset keys from the environment."""
        data = dict(config or {})
        for key, env in _ENV.items():
            if data.get(key) in (None, "") and os.environ.get(env):
                data[key] = os.environ[env]
        try:
            cfg = cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "config"
            raise UsageError(f"tool {tool_name}: config.{loc}: {err['msg']}") from None
        if cfg.backend == "replay" and not cfg.api_base:
            raise UsageError(
                f"tool {tool_name}: backend 'replay' needs api_base (the replay server URL) "
                "in the tool config or XROUTER_TOOL_API_BASE"
            )
        if cfg.backend == "cache" and not cfg.cache_path:
            raise UsageError(f"tool {tool_name}: backend 'cache' needs cache_path or XROUTER_CACHE_PATH")
        return cfg

    def client_key(self) -> tuple[Any, ...]:
        """Settings that identify a shareable client (the model id does not)."""
        return (
            self.backend,
            self.api_base,
            self.api_key,
            self.catalog,
            self.cache_path,
            self.max_concurrency_per_model,
        )


def load_tool_catalog(cfg: ToolBackendConfig) -> Any:
    """The catalog the tools price and resolve models with."""
    from xrouter.catalog import load_catalog

    return load_catalog(cfg.catalog, use_env=False) if cfg.catalog else load_catalog(use_env=False)


def build_client(cfg: ToolBackendConfig, catalog: Any) -> Any:
    """An `LLMClient` for the configured backend."""
    from xrouter.llm.client import LLMClient

    if cfg.backend in ("live", "cache"):  # provider keys, as users keep them in a .env file
        from xrouter.llm.credentials import load_env_file

        load_env_file(cfg.env_file)
    cache = None
    if cfg.backend == "cache":
        from xrouter.llm.cache import ResponseCache

        cache = ResponseCache(cfg.cache_path)
    api_key = cfg.api_key or ("replay" if cfg.backend == "replay" else None)
    return LLMClient(
        catalog,
        cache=cache,
        max_concurrency_per_model=cfg.max_concurrency_per_model,
        api_base=cfg.api_base,
        api_key=api_key,
    )


class ClientPool:
    """One shared client per (settings, event loop) in this process.

    A client holds loop-bound objects (semaphores, HTTP sessions), so a new event loop, as in tests
    that run several `asyncio.run`s, gets a new client instead of a broken one.
    """

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], tuple[asyncio.AbstractEventLoop, Any]] = {}

    def get(self, cfg: ToolBackendConfig, catalog: Any) -> Any:
        """The shared client for `cfg` in the running loop (built on first use)."""
        loop = asyncio.get_running_loop()
        key = cfg.client_key()
        entry = self._clients.get(key)
        if entry is None or entry[0] is not loop or entry[0].is_closed():
            logger.info("xrouter tools: new %s client (api_base=%s)", cfg.backend, cfg.api_base)
            entry = (loop, build_client(cfg, catalog))
            self._clients[key] = entry
        return entry[1]


CLIENTS = ClientPool()
