"""Math scorer: final-answer extraction (`\\boxed{}` first) and equivalence with math-verify.

Example: solution "... so the area is \\boxed{\\frac{1}{2}}", ground_truth "0.5" -> score 1.0
(exact string match first, then math-verify's symbolic and numeric comparison).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from xrouter.reward.scorers.extract import answer_phrase, last_boxed
from xrouter.reward.scorers.registry import ScoreOptions, ScoreResult, register

log = logging.getLogger(__name__)
# math-verify only needs the end of a long solution; capping the text bounds parsing time in verl's
# executor threads, where its SIGALRM timeout cannot be used.
MAX_PARSE_CHARS = 4000
_WRAPPER = re.compile(r"\\(?:textbf|text|mathbf|mathrm)\{(.*)\}")
PREFIXES = ("math", "lighteval/math", "hendrycks_math", "math500", "aime", "amc", "deepscaler", "numina", "olympiad")


def _norm(text: str) -> str:
    """Cheap canonical form for the exact-match fast path (spacing, `$`, `\\left`, trailing period)."""
    out = text.strip().strip("$").replace("\\left", "").replace("\\right", "").replace("\\!", "")
    out = out.replace("dfrac", "frac").replace("tfrac", "frac").rstrip(".")
    out = "".join(out.split())
    # AMC/AIME style: \textbf{(073)} or (073) is the number 73 (only a whole-answer wrapper is removed)
    if wrapped := _WRAPPER.fullmatch(out):
        out = wrapped.group(1)
    if number := re.fullmatch(r"\((\d+)\)", out):
        out = number.group(1)
    return (out.lstrip("0") or "0") if out.isdigit() else out  # AIME writes 073 for 73


def _golds(ground_truth: Any) -> list[str]:
    if isinstance(ground_truth, (list, tuple)):
        return [str(g) for g in ground_truth]
    return [str(ground_truth)]


def _timeout(options: ScoreOptions) -> int | None:
    # math-verify enforces timeouts with SIGALRM, which only works in the main thread; verl calls the
    # reward from executor threads, where we must run without it (inputs are short, so this is rare).
    return options.math_timeout_s if threading.current_thread() is threading.main_thread() else None


@register("math", PREFIXES)
def score_math(solution: str, ground_truth: Any, extra_info: Mapping[str, Any], options: ScoreOptions) -> ScoreResult:
    """1.0 when the solution's final answer equals the ground truth (exactly or per math-verify)."""
    extracted = last_boxed(solution) or answer_phrase(solution)
    golds = _golds(ground_truth)
    if extracted is not None and any(_norm(extracted) == _norm(g) for g in golds):
        return ScoreResult(1.0, {"extracted": extracted, "method": "exact"})
    from math_verify import parse, verify  # heavy import (sympy), only when a math item is scored

    timeout = _timeout(options)
    target = parse(solution[-MAX_PARSE_CHARS:], parsing_timeout=timeout)
    for gold in golds:
        gold_parsed = parse(f"\\boxed{{{gold}}}", parsing_timeout=timeout) or parse(gold, parsing_timeout=timeout)
        if gold_parsed and target and verify(gold_parsed, target, timeout_seconds=timeout):
            return ScoreResult(1.0, {"extracted": _shown(target, extracted), "method": "math_verify"})
    return ScoreResult(0.0, {"extracted": _shown(target, extracted), "method": "math_verify"})


def _shown(parsed: list[Any], extracted: str | None) -> str | None:
    if parsed:
        return str(parsed[-1])
    return extracted
