"""File and JSON helpers: atomic writes (temporary name, then rename), JSONL reading with located errors, and
strict JSON decoding for text from outside (no NaN/Infinity, bounded nesting).

The JSON helpers of the serving path use orjson when it is installed, and only where it gives exactly what the
standard library would: anything orjson refuses or reads differently (NaN, Infinity, numbers too large for a
double, integers outside the 64-bit range, which orjson turns into floats, other encodings than UTF-8, lone
surrogates, deep nesting, values it cannot serialise) goes through the `json` module as before.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from xrouter.errors import DataError, UsageError

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the json module alone gives the same results
    orjson = None  # type: ignore[assignment]
# orjson reads integers outside the 64-bit range as floats: a decoded float this large may have been an integer,
# and the json module then decodes the text again (it keeps integers exact).
_INT_RANGE = 2.0**63
# Types orjson would serialise but json refuses (dataclasses, datetimes, subclasses) go to json, which decides.
_ORJSON_OPTIONS = 0 if orjson is None else orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


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


class StrictJSONError(ValueError):
    """Text that is JSON only by Python's lenient reading (NaN, Infinity, overflowing numbers, absurd nesting)."""


class NonFiniteNumber(StrictJSONError):
    """NaN, Infinity or a number too large for a double."""


class TooDeep(StrictJSONError):
    """Containers nested past the limit."""


def _no_constant(name: str) -> float:
    raise NonFiniteNumber(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(f"{text} is too large for a number")
    return value


_STRICT = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)  # built once: loads() would rebuild it


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest deeper than `limit` (iterative: no recursion on hostile input)."""
    containers = (dict, list)  # a tuple: `dict | list` would build a new union object on every evaluation
    level, depth = [value], 1
    while level:
        if depth > limit:
            return True
        below = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if isinstance(child, containers):
                    below.append(child)
        level, depth = below, depth + 1
    return False


def strict_json_loads(data: str | bytes, *, max_depth: int | None = None) -> Any:
    """Decode JSON as the standard defines it: NonFiniteNumber for NaN/Infinity/1e999, TooDeep past `max_depth`.

    Other syntax errors raise `json.JSONDecodeError` as usual. The nesting check walks the decoded containers
    only (strings and numbers cost nothing), so an ordinary chat request pays a few microseconds for it.
    """
    value = _fast_loads(data)
    if value is _SLOW:
        value = _strict_decode(data)
    if max_depth is not None and isinstance(value, (dict, list)) and _depth_exceeds(value, max_depth):
        raise TooDeep(f"nested more than {max_depth} levels deep")
    return value


_SLOW = object()  # what `_fast_loads` returns when the json module must decide


def _has_huge_float(value: Any) -> bool:
    """True when a decoded value holds a float of magnitude 2**63 or more (iterative: no recursion)."""
    if type(value) is float:
        return not -_INT_RANGE < value < _INT_RANGE
    if type(value) is not dict and type(value) is not list:
        return False
    stack = [value]
    while stack:
        item = stack.pop()
        for child in item.values() if type(item) is dict else item:
            kind = type(child)
            if kind is float:
                if not -_INT_RANGE < child < _INT_RANGE:
                    return True
            elif kind is dict or kind is list:
                stack.append(child)
    return False


def _fast_loads(data: str | bytes) -> Any:
    """orjson's reading of `data` when it is certainly the json module's, else `_SLOW`."""
    if orjson is None or (type(data) is not bytes and type(data) is not str):
        return _SLOW
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:  # NaN, Infinity, 1e999, BOM, UTF-16, lone surrogates, ...: json decides
        return _SLOW
    return _SLOW if _has_huge_float(value) else value


def loads(data: str | bytes) -> Any:
    """`json.loads(data)`, the same value and the same errors, faster for ordinary JSON."""
    value = _fast_loads(data)
    return json.loads(data) if value is _SLOW else value


def _strict_decode(data: str | bytes) -> Any:
    try:
        text = data.decode(json.detect_encoding(data), "surrogatepass") if isinstance(data, bytes) else data
        return _STRICT.decode(text)
    except RecursionError:
        raise TooDeep("nested too deeply to decode") from None


def _without_non_finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _without_non_finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_non_finite(v) for v in value]
    return value


def dumps_strict(value: Any) -> str:
    """JSON text that strict parsers accept: a NaN or infinity that slipped in becomes null, never bare NaN."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_without_non_finite(value), ensure_ascii=False, allow_nan=False)


def dumps_strict_bytes(value: Any) -> bytes:
    """`dumps_strict(value)` as UTF-8 (compact separators when orjson writes it; the same JSON values)."""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS)  # NaN and infinities become null, as above
        except TypeError:  # integers past 64 bits, non-string keys, surrogates, unknown types: json decides
            pass
    return dumps_strict(value).encode("utf-8")


def dumps_bytes(value: Any) -> bytes:
    """JSON of a request body sent upstream: `json.dumps(value)` as UTF-8 (compact and unescaped with orjson)."""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS)
        except TypeError:
            pass
    return json.dumps(value).encode("utf-8")
