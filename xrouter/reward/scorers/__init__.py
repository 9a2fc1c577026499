"""Quality scorers selected by `data_source` prefix: math, gsm8k, multiple choice, short answer, code, LLM judge.

    >>> score("gsm8k", "She pays 3 + 4 = 7 dollars. #### 7", "... #### 7").score
    1.0

`score` never swallows an unknown data_source: it raises ValueError listing the known prefixes.
`extra_info["scorer"]` (a scorer name) overrides the prefix lookup for one item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xrouter.reward.scorers import choice, code, gsm8k, llm_judge, math_answer, short_answer  # noqa: F401 (register)
from xrouter.reward.scorers.registry import (
    JudgeConfig,
    ScoreOptions,
    ScoreResult,
    known_prefixes,
    plain,
    register,
    resolve,
    scorer_names,
)

__all__ = [
    "JudgeConfig",
    "ScoreOptions",
    "ScoreResult",
    "known_prefixes",
    "plain",
    "register",
    "resolve",
    "score",
    "scorer_names",
]


def score(
    data_source: str,
    solution: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    options: ScoreOptions | None = None,
) -> ScoreResult:
    """Quality of `solution` against `ground_truth` with the scorer registered for `data_source`."""
    extra = plain(extra_info or {})
    name, scorer = resolve(data_source, extra.get("scorer"))
    result = scorer(str(solution or ""), plain(ground_truth), extra, options or ScoreOptions())
    result.details.setdefault("scorer", name)
    return result
