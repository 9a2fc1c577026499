"""What the verifier reads off an answer: normalised forms, format features and arithmetic slips."""

from __future__ import annotations

import pytest

from xrouter.eval.answers import FEATURE_NAMES, agree, arithmetic_check, format_features, normalized


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 * 4 = 12, so 12 + 5 = 17", (2, 0)),
        ("3 * 4 = 12, so 12 + 5 = 18", (2, 1)),
        ("She pays $<<12+5*3+4*1.5=39>>39 in total", (1, 1)),  # GSM8K's calculator annotation, wrong sum
        ("He sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs", (2, 0)),
        ("(12 / 20) x 100 = 60% of them", (1, 0)),
        ("1,200 + 300 = 1,500 dollars", (1, 0)),
        ("x = 5 and y = 7", (0, 0)),  # nothing computed
        ("10 / 0 = 3", (0, 0)),  # not checkable, not an error
        ("2 ** 99999999 = 3", (0, 0)),  # no powers: never evaluated
    ],
)
def test_arithmetic_check_counts_checked_and_wrong_steps(text, expected) -> None:
    """Each `a op b = c` step is evaluated safely; only steps that compute something count."""
    assert arithmetic_check(text) == expected


def test_format_features_flag_a_wrong_step() -> None:
    """The last two features are the (log) number of checked steps and whether one of them is wrong."""
    good, bad = format_features("2 + 2 = 4\n#### 4", "number"), format_features("2 + 2 = 5\n#### 5", "number")
    assert len(good) == len(FEATURE_NAMES)
    wrong = FEATURE_NAMES.index("wrong_equation")
    assert good[wrong] == 0.0 and bad[wrong] == 1.0
    assert good[FEATURE_NAMES.index("log_equations")] > 0


def test_answers_agree_on_their_normalised_form() -> None:
    """A final number, a choice label and code compare after normalisation."""
    assert normalized("so she pays $1,200.", "number") == "1200"
    assert agree("The answer is (B).", "B", "choice") and not agree("A", "B", "choice")
    assert agree("```python\ndef f(x):\n    return x  # id\n```", "def f(x): return x", "code")
