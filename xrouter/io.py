"""File helpers: atomic writes (temporary name, then rename) and JSONL reading with located errors."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from xrouter.errors import DataError, UsageError


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    # Reading the umask means setting it; do it once so concurrent threads see it changed at most once.
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp creates 0600 files; give the result the usual umask-based mode
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; DataError names the file and the line.

    Reads line by line from the file object (never `str.splitlines()`, which would also cut at the
    U+2028 separators some datasets keep inside strings).
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {number}: bad JSON ({exc.msg} at column {exc.colno})") from None
                if not isinstance(value, dict):
                    raise DataError(f"{path}: line {number}: expected a JSON object, got {type(value).__name__}")
                yield number, value
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


def refuse_existing(paths: Iterable[str | Path], *, overwrite: bool, resumable: bool = False) -> None:
    """The rule for existing outputs: UsageError naming the first path that exists, unless `overwrite`.

    `resumable` commands (bench, record) also mention `--resume` in the message.
    """
    if overwrite:
        return
    for path in map(Path, paths):
        if path.exists():
            hint = "--overwrite to replace it" + (", or --resume to continue it" if resumable else "")
            raise UsageError(f"{path} exists; pass {hint}")
