"""Scorer tests on real eval-set items. Run: .venv/bin/python -m pytest -q tests/reward/test_scorers_on_cpu.py"""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from xrouter.reward.scorers import JudgeConfig, ScoreOptions, known_prefixes, resolve, score
from xrouter.serve.background import BackgroundServer


@pytest.mark.parametrize(
    "source,name",
    [("math", "math"), ("lighteval/MATH", "math"), ("math500", "math"), ("aime24", "math"),
     ("math__deepscaler_preview", "math"), ("gsm8k", "gsm8k"), ("openai/gsm8k", "gsm8k"), ("mmlu_stem", "choice"),
     ("arc-challenge", "choice"), ("winogrande", "choice"), ("mc", "choice"), ("qa", "qa"), ("qa_f1", "qa_f1"),
     ("codegen__leetcode2k", "code"), ("humaneval", "code"), ("mbpp", "code"), ("llm_judge", "llm_judge")],
)  # fmt: skip
def test_data_source_prefixes_pick_the_right_scorer(source, name):
    """Prefixes (incl. RouterBench eval names and guru `domain__name`) resolve to one scorer."""
    assert resolve(source)[0] == name


def test_unknown_data_source_lists_known_prefixes():
    """An unknown source raises ValueError naming the known prefixes."""
    with pytest.raises(ValueError) as err:
        score("stem__supergpqa", "A", "A")
    assert "known prefixes" in str(err.value) and "gsm8k" in str(err.value)
    assert set(known_prefixes()) >= {"math", "gsm8k", "mmlu", "arc", "qa", "codegen", "humaneval", "mbpp"}


def test_gsm8k_scorer_agrees_with_openai_labels(gsm8k_solutions):
    """On all 5,276 real GPT-3 solutions the scorer agrees with OpenAI's is_correct labels."""
    disagree = []
    for row in gsm8k_solutions:
        for key in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            if score("gsm8k", row[key]["solution"], row["ground_truth"]).score != float(row[key]["is_correct"]):
                disagree.append((row["question"][:60], key))
    assert len(gsm8k_solutions) == 1319 and disagree == []


def test_a_line_that_only_mentions_the_answer_is_not_the_answer():
    """A line that only mentions "the answer as a percentage: 2 / 8" states no answer; the final "A: 50" does."""
    solution = "Divide to express the answer as a percentage: 2 wearers / 8 wearers * 100% = 50%\nA: 50"
    assert score("gsm8k", solution, "#### 50").score == 1.0
    assert score("gsm8k", "The answer is 41. Check: 42 - 1", "42").score == 0.0


def test_gsm8k_formats():
    """####, boxed, answer phrases, commas and dollar signs."""
    assert score("gsm8k", "So she pays $1,250.", "#### 1250").score == 1.0
    assert score("gsm8k", "\\boxed{42} apples", "42").score == 1.0
    assert score("gsm8k", "The answer is 41. Check: 42 - 1", "42").score == 0.0


def test_math500_reference_solutions_score_one_and_wrong_answers_zero(math500):
    """All 500 MATH-500 reference solutions score 1; a changed boxed answer scores 0 (math-verify path)."""
    assert len(math500) == 500
    assert [it["answer"] for it in math500 if score("math500", it["solution"], it["answer"]).score != 1.0] == []
    wrong = [score("math500", f"Thus \\boxed{{{it['answer']}+1}}", it["answer"]).score for it in math500[:20]]
    assert sum(wrong) == 0.0


def test_aime24_reference_solutions_score_one(aime24):
    """All 30 AIME 2024 reference solutions score 1 (one boxes \\textbf{(073)} for the gold 073)."""
    assert len(aime24) == 30
    assert [it["answer"] for it in aime24 if score("aime24", it["solution"], str(it["answer"])).score != 1.0] == []
    assert score("aime24", "so d = \\boxed{\\textbf{(074)}}.", "73").score == 0.0


@pytest.mark.parametrize(
    "solution,gold",
    [("so the probability is \\boxed{0.5}", "\\frac{1}{2}"), ("\\boxed{\\dfrac{\\sqrt{3}}{2}}", "\\frac{\\sqrt3}{2}"),
     ("The final answer is $x = 3$", "3"), ("\\boxed{(1, -2)}", "(1,-2)"), ("\\boxed{2\\pi}", "2\\pi"),
     ("\\boxed{\\textbf{(073)}}", "73"), ("\\boxed{\\text{(B)}}", "B")],
)  # fmt: skip
def test_math_equivalent_forms(solution, gold):
    """Equivalent but differently written answers count as correct."""
    assert score("math", solution, gold).score == 1.0


def test_mmlu_stem_items_by_letter_and_by_text(mmlu_stem):
    """All 3,018 MMLU-STEM items: the right letter or option text scores 1, another letter 0."""
    misses = []
    for item in mmlu_stem:
        extra, choices = {"choices": item["choices"]}, item["choices"]
        right, wrong = "ABCD"[item["answer"]], "ABCD"[(item["answer"] + 1) % 4]
        if score("mmlu_stem", f"Reasoning... The answer is ({right}).", item["answer"], extra).score != 1.0:
            misses.append(("letter", choices))
        if score("mmlu_stem", f"The answer is {wrong}", item["answer"], extra).score != 0.0:
            misses.append(("wrong letter", choices))
        # the option text, unless the item repeats an option or spans lines (no one-line answer can name it)
        if len(set(choices)) == len(choices) and not any("\n" in c for c in choices):
            if score("mmlu_stem", f"Answer: {choices[item['answer']]}", right, extra).score != 1.0:
                misses.append(("text", choices))
    assert len(mmlu_stem) == 3018 and misses == []


@pytest.mark.parametrize(
    "choices,solution,gold",
    [(["0", "1", "-1", "12"], "Answer: -1", 2), (["0", "1", "\u22121", "12"], "The answer is -1", 2),
     (["BB BB", "BB Bb", "Bb Bb", "Bb bb"], "Answer: Bb Bb", 2), (["L", "R", "1/C", "C"], "The answer is (C).", 2),
     (["L", "R", "1/C", "C"], "Answer: 1/C", 2), (["As", "P", "Sb", "B"], "Answer: B", 3)],
)  # fmt: skip
def test_choice_option_texts_that_differ_only_by_sign_or_case(choices, solution, gold):
    """Options "1"/"-1" or "BB"/"Bb" are told apart; "(C)" is a label even when "C" is also an option's text."""
    assert score("mmlu_stem", solution, gold, {"choices": choices}).score == 1.0
    other = (gold + 1) % len(choices)
    assert score("mmlu_stem", solution, other, {"choices": choices}).score == 0.0


def test_winogrande_numeric_labels():
    """Winogrande-style labels 1/2 are read from 'Option 2' or a bare digit."""
    assert score("winogrande", "Option 2", "2").score == 1.0
    assert score("winogrande", "The answer is 1.", "2").score == 0.0


def test_short_answer_exact_and_f1():
    """qa is normalised exact match; qa_f1 gives partial credit."""
    assert score("qa", "The answer is: the Eiffel Tower.", ["Eiffel Tower"]).score == 1.0
    assert score("qa", "Paris, France", "Paris").score == 0.0
    assert score("qa_f1", "Paris, France", "Paris").score == pytest.approx(2 / 3)


def _he_spec(item):
    return {"test": item["test"], "entry_point": item["entry_point"], "prompt": item["prompt"]}


def test_humaneval_canonical_passes_and_wrong_fails(humaneval):
    """Canonical HumanEval solutions pass in the sandbox (body and full-function forms); a wrong one fails."""
    for item in humaneval[:8]:
        body = f"```python\n{item['canonical_solution']}```"
        assert score("humaneval", body, json.dumps(_he_spec(item))).score == 1.0
        full = item["prompt"] + item["canonical_solution"]
        assert score("humaneval", f"Here:\n```python\n{full}\n```", _he_spec(item)).score == 1.0
        wrong = f"def {item['entry_point']}(*args, **kwargs):\n    return None\n"
        result = score("humaneval", wrong, _he_spec(item))
        assert result.score == 0.0 and result.details["status"] == "error"


def test_mbpp_asserts_and_stdin_stdout_cases():
    """MBPP-style assert lists and guru-style stdin/stdout cases."""
    code = "def add(a, b):\n    return a + b\n"
    assert score("mbpp", code, {"test_list": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]}).score == 1.0
    assert score("mbpp", code, {"test_list": ["assert add(1, 2) == 4"]}).score == 0.0
    echo = "```python\nn = int(input())\nprint(n * 2)\n```"
    cases = json.dumps({"inputs": ["2\n", "5\n"], "outputs": ["4\n", "10"]})
    assert score("codegen__demo", echo, cases).score == 1.0
    result = score("codegen__demo", echo, json.dumps({"inputs": ["2\n", "5\n"], "outputs": ["4", "11"]}))
    assert result.score == 0.0 and result.details["passed"] == 1


def _judge_app(seen: list[dict]) -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        seen.append(body)
        text = body["messages"][1]["content"]
        verdict = "CORRECT" if text.rstrip().endswith("Paris") else "INCORRECT"
        return JSONResponse(
            {"choices": [{"message": {"role": "assistant", "content": f"Reasoning.\nVERDICT: {verdict}"}}]}
        )

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def test_llm_judge_over_http_and_refusal_without_config():
    """The judge scorer posts to an OpenAI-compatible endpoint on 127.0.0.1; unconfigured it raises."""
    seen: list[dict] = []
    with BackgroundServer(_judge_app(seen)) as server:
        options = ScoreOptions(judge=JudgeConfig(base_url=f"{server.url}/v1", model="judge-1"))
        extra = {"question": "Capital of France?"}
        assert score("llm_judge", "It is Paris", "Paris", extra, options=options).score == 1.0
        assert score("llm_judge", "It is Lyon", "Paris", extra, options=options).score == 0.0
    assert seen[0]["model"] == "judge-1" and "Capital of France?" in seen[0]["messages"][1]["content"]
    with pytest.raises(ValueError, match="needs a judge"):
        score("llm_judge", "Paris", "Paris")


def test_math_scorer_works_in_a_worker_thread():
    """verl calls compute_score from executor threads, where math-verify cannot use SIGALRM."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        right = pool.submit(score, "math", "so p = \\boxed{0.5}", "\\frac{1}{2}").result()
        wrong = pool.submit(score, "math", "so p = \\boxed{0.6}", "\\frac{1}{2}").result()
    assert (right.score, wrong.score) == (1.0, 0.0)


@pytest.mark.parametrize(
    "source,answer,gold,extra",
    [("mbpp", "def add(a, b):\n    return a + b\n", {"test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]},
      {"note": "tests in the ground truth"}),
     ("mbpp", "def add(a, b):\n    return a + b\n", {"tests_elsewhere": True},
      {"test_list": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]}),
     ("math", "so p = \\boxed{0.5}", ["1/2", "\\frac{1}{2}"], {"note": "accepted answers"}),
     ("mmlu_stem", "The answer is -1", 2, {"choices": ["0", "1", "-1", "12"]}),
     ("qa", "The answer is: Paris", {"answers": ["Paris", "City of Paris"]}, {"note": "answer list in a dict"})],
    ids=["mbpp tests in ground truth", "mbpp tests in extra_info", "math answer list", "mmlu choices", "qa answers"],
)  # fmt: skip
def test_rows_read_back_from_parquet_score_like_plain_python(source, answer, gold, extra, tmp_path):
    """verl reads rows from parquet, where lists come back as numpy arrays; the scorers still score them."""
    import pandas as pd

    pd.DataFrame({"reward_model": [{"ground_truth": gold}], "extra_info": [extra]}).to_parquet(tmp_path / "r.parquet")
    row = pd.read_parquet(tmp_path / "r.parquet").iloc[0]
    truth, info = row["reward_model"]["ground_truth"], row["extra_info"]
    values = [truth, *(truth.values() if isinstance(truth, dict) else []), *info.values()]
    assert any(type(v).__name__ == "ndarray" for v in values)  # the round trip really produced numpy arrays
    if source == "mbpp" and "tests_elsewhere" in gold:
        truth = None
    assert score(source, answer, truth, info).score == 1.0
