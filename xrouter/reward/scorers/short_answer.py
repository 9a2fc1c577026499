"""Short-answer scorers: normalised exact match (`qa`) and token-overlap F1 (`qa_f1`).

Normalisation lower-cases, drops punctuation and the articles a/an/the, and collapses spaces.
The solution is compared as a whole and through its `\\boxed{}` / "answer is" part; the best match
over all accepted gold answers counts. Example: gold ["Paris", "City of Paris"], solution
"The answer is: Paris." -> exact 1.0; solution "Paris, France" -> exact 0.0, F1 0.67.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping
from typing import Any

from xrouter.reward.scorers.extract import answer_phrase, last_boxed
from xrouter.reward.scorers.registry import ScoreOptions, ScoreResult, register

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower-case, strip punctuation and articles, collapse whitespace."""
    return " ".join(_ARTICLES.sub(" ", _PUNCT.sub(" ", str(text).lower())).split())


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall between two normalised answers."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def _golds(ground_truth: Any) -> list[str]:
    if isinstance(ground_truth, str):
        return [ground_truth]
    if isinstance(ground_truth, Mapping):
        ground_truth = ground_truth.get("answers") or ground_truth.get("target") or []
    return [str(g) for g in ground_truth]


def _match(solution: str, ground_truth: Any) -> tuple[float, float, str]:
    candidates = [c for c in (last_boxed(solution), answer_phrase(solution), solution) if c]
    golds = _golds(ground_truth)
    if not golds:
        raise ValueError("short-answer ground truth holds no answer")
    exact = max(float(normalize_answer(c) == normalize_answer(g)) for c in candidates for g in golds)
    f1 = max(token_f1(c, g) for c in candidates for g in golds)
    return exact, f1, candidates[0]


@register("qa", ("qa", "short_answer", "squad", "triviaqa", "natural_questions", "hotpotqa"))
def score_exact(solution: str, ground_truth: Any, extra_info: Mapping[str, Any], options: ScoreOptions) -> ScoreResult:
    """1.0 when the (extracted) answer equals a gold answer after normalisation; F1 in details."""
    exact, f1, extracted = _match(solution, ground_truth)
    return ScoreResult(exact, {"extracted": extracted, "exact": exact, "f1": f1})


@register("qa_f1", ("qa_f1",))
def score_f1(solution: str, ground_truth: Any, extra_info: Mapping[str, Any], options: ScoreOptions) -> ScoreResult:
    """Best token F1 between the (extracted) answer and any gold answer (partial credit)."""
    exact, f1, extracted = _match(solution, ground_truth)
    return ScoreResult(f1, {"extracted": extracted, "exact": exact, "f1": f1})
