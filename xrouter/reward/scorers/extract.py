"""Final-answer extraction shared by the text scorers (boxed answers, "answer is" phrases, code fences)."""

from __future__ import annotations

import re

# "answer" must be followed by a verb or separator: a line like "express the answer as a percentage: 2 / 8"
# mentions the word but does not state the answer.
_ANSWER_PHRASE = re.compile(r"\banswer\s*(?:(?:is|was|would be|will be|should be)\b|[:=])\s*[:\s]*(.+)", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`) with balanced braces, else None."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
        return None
    depth = 0
    for i in range(brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1 : i].strip()
    return None


def answer_phrase(text: str) -> str | None:
    """Text after the last "answer is"/"Answer:"/"answer =" phrase, up to the end of that line, else None."""
    found = None
    for line in text.splitlines():
        match = _ANSWER_PHRASE.search(line)
        if match and match.group(1).strip():
            found = match.group(1).strip()
    return found


def code_block(text: str, prefer: tuple[str, ...] = ("python", "py", "python3")) -> str:
    """The last fenced code block (preferring a python-tagged one), or the whole text when there is none."""
    blocks = _FENCE.findall(text)
    if not blocks:
        return text.strip("\n")
    tagged = [body for lang, body in blocks if lang.lower() in prefer]
    return (tagged or [body for _, body in blocks])[-1]
