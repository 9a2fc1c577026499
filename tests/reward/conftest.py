"""Fixtures for the reward tests: real eval-set items from ../shared/data/evalsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from xrouter.io import read_jsonl


def _jsonl(path: Path) -> list[dict]:
    return [row for _, row in read_jsonl(path)]


@pytest.fixture(scope="session")
def evalsets(shared_data: Path) -> Path:
    """The evalsets folder (skips when the shared data is missing)."""
    return shared_data / "evalsets"


@pytest.fixture(scope="session")
def humaneval(evalsets: Path) -> list[dict]:
    """All 164 HumanEval problems."""
    return _jsonl(evalsets / "humaneval" / "HumanEval.jsonl")


@pytest.fixture(scope="session")
def math500(evalsets: Path) -> list[dict]:
    """The 500 MATH-500 problems."""
    return _jsonl(evalsets / "math500" / "test.jsonl")


@pytest.fixture(scope="session")
def gsm8k_solutions(evalsets: Path) -> list[dict]:
    """GSM8K test questions with GPT-3 solutions marked correct or not."""
    return _jsonl(evalsets / "gsm8k" / "example_model_solutions.jsonl")


@pytest.fixture(scope="session")
def mmlu_stem(evalsets: Path) -> list[dict]:
    """MMLU-STEM items (question, choices, 0-based answer index)."""
    return _jsonl(evalsets / "mmlu_stem" / "test.jsonl")


@pytest.fixture(scope="session")
def aime24(evalsets: Path) -> list[dict]:
    """The 30 AIME 2024 problems with reference solutions and integer answers."""
    return _jsonl(evalsets / "aime24" / "test.jsonl")
