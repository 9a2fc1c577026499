"""What a router can read off a model's answer: its normalised form (to compare two answers) and format features.

    kind = answer_kind(["B", "A", "C\n"])            # "choice"
    normalized("The answer is (B).", kind)           # "B"
    normalized("... so she pays $1,200.", "number")  # "1200"
    format_features("```python\ndef f(x): ...```")   # length, lines, code, language and refusal markers
    arithmetic_check("3 * 4 = 12, 12 + 5 = 18")       # (2, 1): two steps checked, one of them wrong

Kinds: `choice` (a letter label, as the multiple-choice scorer reads it), `number` (the final number, as the
GSM8K scorer reads it), `code` (the code blocks with comments and blank space removed) and `text` (lower-case
words). The kind of a task is chosen from the recorded answers when a router is fitted.
"""

from __future__ import annotations

import ast
import math
import operator
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
                 "refusal", "has_number", "log_equations", "wrong_equation")  # fmt: skip
_TERM = r"\(*\s*\$?\s*\d[\d,]*(?:\.\d+)?\s*%?\s*\)*"
_EXPR = rf"{_TERM}(?:\s*[-+*/×x]\s*{_TERM})*"
_TAIL, _HEAD = re.compile(rf"({_EXPR})\s*$"), re.compile(rf"^\s*({_EXPR})")
_OPERATION = re.compile(r"\d\s*\)*\s*[-+*/]\s*\(*\s*\d")
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


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


def _value(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        return _ARITH[type(node.op)](_value(node.left), _value(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand)
    raise ValueError("not plain arithmetic")


def _side(text: str) -> tuple[float, bool] | None:
    """Value of one side of an equation and whether it computes something, or None when it is not arithmetic."""
    expr = text.replace(",", "").replace("×", "*").replace("x", "*").replace("$", "").replace("%", "")
    expr = expr.strip().strip("+-*/").strip()
    if not re.search(r"\d", expr) or len(expr) > 80:
        return None
    try:
        return _value(ast.parse(expr, mode="eval").body), _OPERATION.search(expr) is not None
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        return None


def arithmetic_check(text: str) -> tuple[int, int]:
    """(equations checked, equations wrong) for the `a op b = c` steps of a worked answer (1 % tolerance)."""
    text = str(text).replace("\\*", "*").replace("\\times", "*").replace("<<", " ").replace(">>", " ")
    checked = wrong = 0
    for line in text.splitlines():
        parts = line[:500].split("=")
        for left, right in zip(parts[:-1], parts[1:], strict=True):
            tail, head = _TAIL.search(left), _HEAD.search(right)
            a = _side(tail.group(1)) if tail else None
            b = _side(head.group(1)) if head else None
            if a is None or b is None or not (a[1] or b[1]):
                continue
            checked += 1
            wrong += abs(a[0] - b[0]) > 1e-2 * max(1.0, abs(b[0]))
    return checked, wrong


def format_features(text: str, kind: str) -> np.ndarray:
    """Length, format and language markers and arithmetic slips of one answer (in the order of FEATURE_NAMES)."""
    text = str(text)
    checked, wrong = arithmetic_check(text)
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
        math.log1p(checked) / 2.0,
        float(wrong > 0),
    ])  # fmt: skip
