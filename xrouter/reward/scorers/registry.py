"""One small registry: scorer name -> function, data_source prefix -> scorer name.

A `data_source` picks its scorer by the longest registered prefix it starts with (case-insensitive),
so `math__deepscaler`, `lighteval/MATH` and `math500` all reach the math scorer. An unknown source
raises instead of scoring 0, so a typo in preprocessing cannot silently zero a whole dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xrouter.reward.sandbox import SandboxLimits


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge lives: base URL (ending in /v1), model name, optional API key and timeout."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_answer_chars: int = 8000

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"judge_base_url={self.base_url!r} must be an http(s) URL such as http://127.0.0.1:8000/v1"
            )
        if not self.model:
            raise ValueError("judge_model must name the model served at judge_base_url")


@dataclass(frozen=True)
class ScoreResult:
    """A quality score in [0, 1] plus scorer-specific details (extracted answer, test counts, ...)."""

    score: float
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score {self.score} is outside [0, 1]")


@dataclass(frozen=True)
class ScoreOptions:
    """Settings some scorers need: the code sandbox limits, the math timeout, the optional LLM judge.

    Args:
        sandbox: limits of each sandboxed code run (see `xrouter.reward.sandbox.SandboxLimits`).
        math_timeout_s: per-comparison timeout of math-verify (only enforceable in the main thread).
        judge: OpenAI-compatible judge endpoint (`JudgeConfig`); the llm_judge scorer refuses to run without it.
    """

    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    math_timeout_s: int = 5
    judge: JudgeConfig | None = None


Scorer = Callable[[str, Any, Mapping[str, Any], ScoreOptions], ScoreResult]
_SCORERS: dict[str, Scorer] = {}
_PREFIXES: dict[str, str] = {}


def register(name: str, prefixes: Iterable[str]) -> Callable[[Scorer], Scorer]:
    """Decorator: register a scorer under `name` for every data_source prefix in `prefixes`."""

    def wrap(fn: Scorer) -> Scorer:
        if _SCORERS.get(name, fn) is not fn:
            raise ValueError(f"scorer name {name!r} is already registered to another function")
        for prefix in prefixes:
            key = prefix.lower()
            if _PREFIXES.get(key, name) != name:
                raise ValueError(f"prefix {prefix!r} already belongs to scorer {_PREFIXES[key]!r}")
            _PREFIXES[key] = name
        _SCORERS[name] = fn
        return fn

    return wrap


def plain(value: Any) -> Any:
    """`value` with numpy arrays and scalars turned into lists and Python scalars, recursively.

    verl reads rows from parquet, where a list (test cases, accepted answers, choices) comes back as a
    numpy array: `array or []` raises and `str(array)` is not an answer, so scorers get plain values.
    """
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy array or scalar, without importing numpy
        return plain(value.tolist())
    return value


def known_prefixes() -> list[str]:
    """All registered data_source prefixes, sorted."""
    return sorted(_PREFIXES)


def scorer_names() -> list[str]:
    """All registered scorer names, sorted."""
    return sorted(_SCORERS)


def resolve(data_source: str, override: str | None = None) -> tuple[str, Scorer]:
    """The (name, scorer) for a data_source, or for an explicit scorer name `override`."""
    if override:
        if override not in _SCORERS:
            raise ValueError(f"unknown scorer {override!r}; known scorers: {', '.join(scorer_names())}")
        return override, _SCORERS[override]
    source = str(data_source).lower()
    matches = [p for p in _PREFIXES if source.startswith(p)]
    if not matches:
        raise ValueError(
            f"no scorer for data_source {data_source!r}; known prefixes: {', '.join(known_prefixes())}"
            " (or set extra_info['scorer'] to a scorer name)"
        )
    name = _PREFIXES[max(matches, key=len)]
    return name, _SCORERS[name]
