"""Persistent response cache: SQLite in WAL mode, keyed by a canonical hash of the request.

The key is the SHA-256 of canonical JSON (sorted keys, no whitespace, floats as written by
`json.dumps`) of `{model: <LiteLLM model>, messages, params: <sampling params actually sent>}`.
Only successful results are stored. Every process opens its own connections (one for lookups, one
for stores, so a store waiting on a lock never holds up a lookup); WAL mode plus a busy timeout lets
many processes (Ray workers) read and write at once. A database that cannot be read raises
`DataError` at open (delete the file or pick another path); an error during a lookup or a store is
logged and treated as a miss, so the caller falls back to a live call - never a wrong answer. A store
that found the database locked for the whole busy timeout pauses stores for `lock_cooldown_s`, so a
database held by a stuck process costs one wait, not one per call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from xrouter.catalog.pricing import Usage
from xrouter.errors import DataError, UsageError
from xrouter.llm.types import CallResult

logger = logging.getLogger(__name__)

CacheMode = Literal["off", "read", "write", "readwrite"]
CACHE_MODES: tuple[str, ...] = ("off", "read", "write", "readwrite")
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    result TEXT NOT NULL
)
"""


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, compact separators, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cache_key(fields: dict[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON of the request fields."""
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def _result_payload(result: CallResult) -> str:
    data = result.to_dict()
    for transient in ("latency_s", "request_id", "cache_hit", "spent_usd", "attempts"):
        data.pop(transient, None)
    return canonical_json(data)


def _result_from_payload(payload: str) -> CallResult:
    data = json.loads(payload)
    usage = Usage(**data.pop("usage"))
    if data.get("error") is not None:  # never stored, but refuse to rebuild a failure as a success
        raise ValueError("cached entry holds an error")
    data.pop("error", None)
    return CallResult(usage=usage, **data)


class ResponseCache:
    """SQLite response cache shared by threads and processes (modes off | read | write | readwrite)."""

    def __init__(
        self,
        path: str | Path,
        mode: CacheMode = "readwrite",
        *,
        busy_timeout_s: float = 30.0,
        lock_cooldown_s: float = 60.0,
    ) -> None:
        if mode not in CACHE_MODES:
            raise UsageError(f"cache mode {mode!r} is not one of {', '.join(CACHE_MODES)}")
        self.path = Path(path)
        self.mode: CacheMode = mode
        self.lock_cooldown_s = lock_cooldown_s
        self._lock = threading.Lock()  # guards the lookup connection
        self._write_lock = threading.Lock()  # guards the store connection
        self._conn: sqlite3.Connection | None = None
        self._write_conn: sqlite3.Connection | None = None
        self._stores_paused_until = 0.0
        if mode != "off":
            self._conn = self._open(busy_timeout_s)
            if self.writable:
                self._write_conn = self._open(busy_timeout_s)

    @property
    def readable(self) -> bool:
        """True when lookups are served."""
        return self.mode in ("read", "readwrite")

    @property
    def writable(self) -> bool:
        """True when successful results are stored."""
        return self.mode in ("write", "readwrite")

    def _open(self, busy_timeout_s: float) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            elif version != _SCHEMA_VERSION:
                raise DataError(f"{self.path}: response cache schema v{version}, expected v{_SCHEMA_VERSION}")
            conn.execute("SELECT COUNT(*) FROM responses WHERE key = ''").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise DataError(f"{self.path}: response cache stayed locked by another process ({exc})") from None
            raise DataError(f"{self.path}: response cache cannot be opened ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise DataError(
                f"{self.path}: response cache is not a usable SQLite database ({exc}); delete it or choose another path"
            ) from None
        return conn

    def get(self, key: str) -> CallResult | None:
        """The stored result for `key` marked as a cache hit (no money spent), or None."""
        if self._conn is None or not self.readable:
            return None
        try:
            with self._lock:
                row = self._conn.execute("SELECT result FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            result = _result_from_payload(row[0])
        except (sqlite3.Error, ValueError, TypeError, KeyError) as exc:
            logger.warning("response cache %s: lookup failed (%s); calling the provider instead", self.path, exc)
            return None
        return replace(result, cache_hit=True, spent_usd=0.0, attempts=0, latency_s=0.0)

    def put(self, key: str, result: CallResult) -> bool:
        """Store a successful result under `key`; returns False (and logs) when it could not.

        May wait up to the busy timeout on a locked database: async callers run it in a thread.
        """
        if self._write_conn is None or not result.success or time.monotonic() < self._stores_paused_until:
            return False
        try:
            payload = _result_payload(result)
            with self._write_lock:
                self._write_conn.execute(
                    "INSERT OR REPLACE INTO responses (key, model, created, result) VALUES (?, ?, ?, ?)",
                    (key, result.model_id, time.time(), payload),
                )
        except (sqlite3.Error, ValueError, TypeError) as exc:
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
                self._stores_paused_until = time.monotonic() + self.lock_cooldown_s
                logger.warning(
                    "response cache %s: locked by another process (%s); not storing for %gs",
                    self.path,
                    exc,
                    self.lock_cooldown_s,
                )
            else:
                logger.warning("response cache %s: store failed (%s); result not cached", self.path, exc)
            return False
        return True

    def __len__(self) -> int:
        if self._conn is None:
            return 0
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Close the connections (further lookups are misses, stores are refused)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        with self._write_lock:
            if self._write_conn is not None:
                self._write_conn.close()
                self._write_conn = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
