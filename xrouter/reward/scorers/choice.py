"""Multiple-choice scorer: the answer may be given as a letter (A-J), a numeric label, or the option text.

Example: extra_info {"choices": ["3", "4", "5", "6"]}, ground_truth 1 (0-based index) or "B";
solution "The answer is (B)." or "The answer is 4" -> 1.0. Winogrande-style labels "1"/"2" work too:
ground_truth "2" with solution "Option 2" -> 1.0. Option texts match exactly first (case, signs and symbols
count: "1" vs "-1", "BB" vs "Bb"), then loosely (case and punctuation ignored) when only one option fits.
"""

from __future__ import annotations

import numbers
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from xrouter.reward.scorers.extract import answer_phrase, last_boxed
from xrouter.reward.scorers.registry import ScoreOptions, ScoreResult, register

PREFIXES = ("mc", "mmlu", "arc", "winogrande", "hellaswag", "gpqa", "commonsenseqa", "openbookqa", "piqa", "choice")
_LETTERS = string.ascii_uppercase[:10]
_OPTION = re.compile(r"\b(?:option|choice)\s*\(?([A-J1-9])\)?(?![\w'])", re.IGNORECASE)
_DEFAULT_OPTIONS = 8  # without a list of options, accept letters A-H (not "I", which is usually a pronoun)
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-"})


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", str(text).lower()).split())


def _strict(text: str) -> str:
    """Case, signs and symbols kept (options "1"/"-1" or "BB"/"Bb" differ); dashes unified, spacing collapsed."""
    return " ".join(str(text).translate(_DASHES).split()).rstrip(".").strip()


def _option_index(text: str, choices: Sequence[str]) -> int | None:
    """The one option whose text `text` is: an exact (strict) match first, else a unique loose match."""
    for key in (_strict, _norm):
        wanted = key(text)
        hits = [i for i, option in enumerate(choices) if wanted and key(option) == wanted]
        if hits:
            return hits[0] if len(hits) == 1 else None
    return None


def _gold(ground_truth: Any, choices: Sequence[str]) -> tuple[str | None, str | None]:
    """(label, option text) of the gold answer; label is a letter or a digit string."""
    if isinstance(ground_truth, numbers.Integral) and not isinstance(ground_truth, bool):
        index = int(ground_truth)
        if not 0 <= index < (len(choices) or len(_LETTERS)):
            raise ValueError(f"choice index {index} is out of range for {len(choices)} options")
        return _LETTERS[index], (choices[index] if index < len(choices) else None)
    text = str(ground_truth).strip().strip("()").rstrip(".")
    if len(text) == 1 and text.upper() in _LETTERS:
        idx = _LETTERS.index(text.upper())
        return text.upper(), (choices[idx] if idx < len(choices) else None)
    if text.isdigit():
        return text, None
    index = _option_index(text, choices)
    return (_LETTERS[index], choices[index]) if index is not None else (None, text)


def _label(text: str, digits: bool, n_options: int) -> str | None:
    """The first answer label in `text`: a standalone capital letter of an existing option, or a digit."""
    allowed = "1-9" if digits else f"A-{_LETTERS[(n_options or _DEFAULT_OPTIONS) - 1]}"
    match = re.search(rf"(?<![\w.'])\(?([{allowed}])\)?(?![\w'])", text)
    return match.group(1) if match else None


def predicted_label(solution: str, choices: Sequence[str], digits: bool = False) -> str | None:
    """The label the solution picks: boxed, answer phrase, "option X", a short bare answer, then a unique option text."""
    stripped = solution.strip()
    named = _OPTION.findall(solution)
    candidates = (last_boxed(solution), answer_phrase(solution), named[-1] if named else None,
                  stripped if len(stripped) <= 12 else None)  # fmt: skip
    for candidate in candidates:
        if not candidate:
            continue
        # "(C)" is a label even when "C" is also an option's text; otherwise an option's text wins over a label
        in_parens = re.fullmatch(r"\s*\(([A-J1-9])\)\.?\s*", candidate)
        if in_parens and _label(in_parens.group(1), digits, len(choices)):
            return in_parens.group(1)
        if (index := _option_index(candidate, choices)) is not None:
            return _LETTERS[index]
        if label := _label(candidate, digits, len(choices)):
            return label
    if opening := re.match(r"\s*\(?([A-J1-9])[).:]\s", solution):
        return opening.group(1) if opening.group(1).isdigit() == digits else None
    tail = _norm(answer_phrase(solution) or solution)
    hits = [i for i, option in enumerate(map(_norm, choices)) if option and option in tail]
    return _LETTERS[hits[0]] if len(hits) == 1 else None


@register("choice", PREFIXES)
def score_choice(solution: str, ground_truth: Any, extra_info: Mapping[str, Any], options: ScoreOptions) -> ScoreResult:
    """1.0 when the solution picks the gold option (by label or by option text)."""
    choices = [str(c) for c in (extra_info.get("choices") or [])]
    gold_label, gold_text = _gold(ground_truth, choices)
    digits = gold_label is not None and gold_label.isdigit()
    pred = predicted_label(solution, choices, digits)
    if gold_label is not None:
        correct = pred == gold_label
    else:  # free-text gold with no list of options: compare the normalised answer text
        said = answer_phrase(solution) or solution
        correct = _norm(said) == _norm(gold_text or "")
    return ScoreResult(float(correct), {"extracted": pred, "gold": gold_label or gold_text})
