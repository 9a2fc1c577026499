"""GSM8K-style numeric scorer: compare the final number of the solution with the gold number.

Example: solution "... she earns $18 a day. #### 18", ground_truth "Janet sells ... #### 18" -> 1.0.
The solution's number comes from `####`, else `\\boxed{}`, else an "answer is" phrase, else the last
number in the text; commas, `$` and trailing zeros do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from xrouter.reward.scorers.extract import answer_phrase, last_boxed
from xrouter.reward.scorers.registry import ScoreOptions, ScoreResult, register

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def to_number(text: str, *, last: bool = False) -> float | None:
    """The first (or last) number in `text`, ignoring thousands separators; None when there is none."""
    found = _NUMBER.findall(text.replace("$", ""))
    if not found:
        return None
    try:
        return float(found[-1 if last else 0].replace(",", ""))
    except ValueError:
        return None


def gold_number(ground_truth: Any) -> float:
    """The gold number: after `####` in a worked solution, else the last number (e.g. "A: 18")."""
    text = str(ground_truth)
    value = to_number(text.split("####")[-1]) if "####" in text else to_number(text, last=True)
    if value is None:
        raise ValueError(f"gsm8k ground truth has no number: {text[-80:]!r}")
    return value


def predicted_number(solution: str) -> float | None:
    """The number a solution commits to (see module docstring for the order of places looked at)."""
    if "####" in solution:
        return to_number(solution.split("####")[-1])
    for candidate in (last_boxed(solution), answer_phrase(solution)):
        if candidate is not None and (value := to_number(candidate)) is not None:
            return value
    return to_number(solution, last=True)


@register("gsm8k", ("gsm8k", "openai/gsm8k", "svamp", "asdiv", "numeric"))
def score_gsm8k(solution: str, ground_truth: Any, extra_info: Mapping[str, Any], options: ScoreOptions) -> ScoreResult:
    """1.0 when the solution's final number equals the gold number (relative tolerance 1e-6)."""
    gold = gold_number(ground_truth)
    pred = predicted_number(solution)
    correct = pred is not None and abs(pred - gold) <= 1e-6 * max(1.0, abs(gold))
    return ScoreResult(float(correct), {"extracted": pred, "gold": gold})
