"""The fast JSON helpers of `xrouter.io` give exactly the standard library's values and errors."""

from __future__ import annotations

import json

import pytest

from xrouter import io

# Each text is one case orjson reads differently from the json module, or refuses, or reads the same.
CASES = [
    b'{"model": "router", "messages": [{"role": "user", "content": "2+2?"}], "temperature": 0.5}',
    b"123456789012345678901234567890",  # an integer past 64 bits: orjson would give a float
    b'{"a": [1, {"b": 18446744073709551616}]}',
    b"-9223372036854775809",
    b"9223372036854775807",
    b'{"x": 1e19}',
    b"1e999",
    b"NaN",
    b"[Infinity]",
    b'{"a": 1, "a": 2}',
    b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
    b'"\\ud800"',  # a lone surrogate
    '{"é": "ü"}'.encode("utf-16"),
    b'{"deep":' * 70 + b"1" + b"}" * 70,
    b'  {"k": -0.0, "f": 0.1, "i": -12}  ',
    b"{} x",
    b"",
]


def _outcome(decode, data):
    try:
        value = decode(data)
    except Exception as exc:  # the error type is part of the contract
        return "error", type(exc).__name__
    return "value", repr(value), type(value).__name__


@pytest.mark.parametrize("data", CASES)
def test_fast_strict_loads_matches_the_json_module(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _outcome(lambda d: io.strict_json_loads(d, max_depth=64), data)
    monkeypatch.setattr(io, "orjson", None)
    assert fast == _outcome(lambda d: io.strict_json_loads(d, max_depth=64), data)


@pytest.mark.parametrize("data", CASES)
def test_fast_loads_matches_json_loads(data: bytes) -> None:
    assert _outcome(io.loads, data) == _outcome(json.loads, data)


def test_strict_bytes_write_null_for_non_finite_numbers_and_fall_back_for_huge_integers() -> None:
    assert json.loads(io.dumps_strict_bytes({"a": float("nan"), "b": [1.5]})) == {"a": None, "b": [1.5]}
    assert json.loads(io.dumps_strict_bytes({"n": 10**30, "é": "ü"})) == {"n": 10**30, "é": "ü"}
    assert json.loads(io.dumps_bytes({"n": 10**30, 1: "int key"})) == json.loads(
        json.dumps({"n": 10**30, 1: "int key"})
    )
