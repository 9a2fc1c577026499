"""What a router can read off a model's answer: its normalised form (to compare two answers) and format features.

    kind = answer_kind(["B", "A", "C\n"])            # "choice"
    normalized("The answer is (B).", kind)           # "B"
    normalized("... so she pays $1,200.", "number")  # "1200"
    format_features("```python\ndef f(x): ...```")   # length, lines, code, language and refusal markers

Kinds: `choice` (a letter label, as the multiple-choice scorer reads it), `number` (the final number, as the
GSM8K scorer reads it), `code` (the code blocks with comments and blank space removed) and `text` (lower-case
words). The kind of a task is chosen from the recorded answers when a router is fitted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from xrouter.reward.scorers.choice import predicted_label
from xrouter.reward.scorers.gsm8k import predicted_number
from xrouter.reward.scorers.short_answer import normalize_answer

KINDS = ("choice", "number", "code", "text")
_FENCE = re.compile(r"```[\w+-]*\n?(.*?)(?:```|$)", re.DOTALL)
_PYTHON = re.compile(r"^\s*(def |import |from \w+ import |class \w+[:(])", re.MULTILINE)
_OTHER_CODE = re.compile(r"```(javascript|js|java|cpp|c\+\+|c|csharp|ruby|go|rust|php|typescript)\b|\bfunction\s+\w+\s*\(|"
                         r"#include\b|public static", re.IGNORECASE)  # fmt: skip
_REFUSAL = re.compile(r"\b(sorry|cannot|can't|unable to|as an ai|i don't know|not possible)\b", re.IGNORECASE)
_COMMENT = re.compile(r"#[^\n]*|//[^\n]*")
FEATURE_NAMES = ("log_chars", "log_lines", "short", "unreadable", "code_fence", "python", "other_language",
                 "refusal", "has_number")  # fmt: skip


def code_text(text: str) -> str:
    """The code in an answer: its fenced blocks (or the whole text), comments and all blank space removed."""
    blocks = _FENCE.findall(text)
    code = "\n".join(blocks) if blocks else text
    return "".join(_COMMENT.sub("", code).split())


def normalized(text: str, kind: str) -> str | None:
    """The answer in comparable form, or None when nothing of that kind can be read from it."""
    text = str(text)
    if kind == "choice":
        return predicted_label(text, [])
    if kind == "number":
        value = predicted_number(text)
        return None if value is None or not math.isfinite(value) else f"{value:.6g}"
    if kind == "code":
        return code_text(text) or None
    return normalize_answer(text) or None


def agree(a: str, b: str, kind: str) -> bool:
    """Whether two answers say the same thing (both readable and equal once normalised)."""
    na, nb = normalized(a, kind), normalized(b, kind)
    return na is not None and na == nb


def answer_kind(responses: Sequence[str]) -> str:
    """The kind that fits most recorded answers of a task: short labels, code, a final number, else text."""
    texts = [str(r) for r in responses if str(r).strip()]
    if not texts:
        return "text"
    short = np.mean([len(t.strip()) <= 12 and predicted_label(t, []) is not None for t in texts])
    if short >= 0.6:
        return "choice"
    if np.mean(["```" in t or _PYTHON.search(t) is not None for t in texts]) >= 0.5:
        return "code"
    if np.mean([predicted_number(t) is not None for t in texts]) >= 0.7:
        return "number"
    return "text"


def format_features(text: str, kind: str) -> np.ndarray:
    """Length, format and language markers of one answer (in the order of FEATURE_NAMES)."""
    text = str(text)
    return np.array([
        math.log1p(len(text)) / 8.0,
        math.log1p(text.count("\n")) / 4.0,
        float(len(text.strip()) <= 12),
        float(normalized(text, kind) is None),
        float("```" in text),
        float(_PYTHON.search(text) is not None),
        float(_OTHER_CODE.search(text) is not None),
        float(_REFUSAL.search(text) is not None),
        float(re.search(r"\d", text) is not None),
    ])  # fmt: skip
