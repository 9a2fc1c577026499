"""Source adapters on the shared eval sets and RouterBench slices, and `xrouter preprocess-source`."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from xrouter.data.outcomes import load_outcomes
from xrouter.data.sources import SOURCES, source_rows
from xrouter.data.sources.routerbench import choice_letter
from xrouter.errors import DataError


def _first(name, path, n=3):
    rows = []
    for row in source_rows(name)(path):
        rows.append(row)
        if len(rows) == n:
            break
    return rows


@pytest.mark.parametrize(
    "name, data_source, ability, truth, query_id",
    [
        ("gsm8k", "gsm8k", "math", "18", "gsm8k.test.0"),
        ("math500", "math__math500", "math", None, "math500.test.0"),
        ("aime24", "math__aime24", "math", None, "aime24.60"),
        ("mmlu_stem", "mmlu_stem", "multiple_choice", "C", "mmlu_stem.test.0"),
        ("humaneval", "humaneval", "codegen", None, "HumanEval/0"),
    ],
)
def test_eval_set_adapters_make_guru_rows(shared_data, name, data_source, ability, truth, query_id):
    """Each eval set gives guru rows with the scorer's data_source, ground truth and a stable query id."""
    from xrouter.data.sources import source_module

    path = shared_data / "evalsets" / source_module(name).DEFAULT_FILE
    rows = _first(name, path)
    first = rows[0]
    assert first["data_source"] == data_source and first["ability"] == ability
    assert first["prompt"][0]["role"] == "user" and first["prompt"][0]["content"].strip()
    assert first["extra_info"]["query_id"] == query_id
    assert first["reward_model"]["style"] == "rule" and first["reward_model"]["ground_truth"]
    if truth is not None:
        assert first["reward_model"]["ground_truth"] == truth
    assert len({r["extra_info"]["query_id"] for r in rows}) == 3
    if name == "humaneval":
        spec = json.loads(first["reward_model"]["ground_truth"])
        assert spec["entry_point"] == "has_close_elements" and "check(has_close_elements)" in spec["functional"]
    if name == "mmlu_stem":
        assert "\nA) " in first["prompt"][0]["content"] and "\nD) " in first["prompt"][0]["content"]


def test_routerbench_rows_join_the_outcome_table(shared_data):
    """RouterBench query ids and prompts equal the outcome table's ids and query texts."""
    path = shared_data / "routerbench_slices" / "winograde_train.csv"
    rows = list(source_rows("routerbench")(path))
    queries = load_outcomes(path).queries()
    assert [r["extra_info"]["query_id"] for r in rows] == queries["query_id"].tolist()
    assert [r["prompt"][0]["content"] for r in rows[:20]] == queries["query_text"].tolist()[:20]
    first = rows[0]
    assert first["data_source"] == "winogrande" and first["extra_info"]["source"] == "routerbench"
    assert len(first["extra_info"]["recorded_models"]) == 11
    ruled = [r for r in rows if r["reward_model"]["style"] == "rule"]
    assert len(ruled) > 0.9 * len(rows) and {r["reward_model"]["ground_truth"] for r in ruled} <= {"A", "B"}
    for r in ruled[:50]:  # the letter agrees with what the recorded-correct models answered
        correct = [x for x in r["extra_info"]["recorded"] if x["score"] == 1.0]
        assert correct


def test_mbpp_rows_fall_back_to_recorded_correctness(shared_data):
    """MBPP has no tests in RouterBench: ground truth empty, style 'recorded'."""
    rows = _first("routerbench", shared_data / "routerbench_slices" / "mbpp_train.csv", 2)
    assert rows[0]["reward_model"] == {"style": "recorded", "ground_truth": ""}
    assert rows[0]["ability"] == "codegen"


def test_choice_letter_reads_common_answer_shapes():
    """Letters are read from 'B', '(C) x', 'D) east' and not from prose."""
    assert [choice_letter(x) for x in ("B", "(C) foo", " D) east", "Okay,", "A.")] == ["B", "C", "D", None, "A"]


def test_adapter_errors_name_file_and_line(tmp_path, write_jsonl):
    """A GSM8K line without '####' and a bad MMLU answer index are DataErrors naming the line."""
    path = write_jsonl(tmp_path / "g.jsonl", [{"question": "q", "answer": "42"}])
    with pytest.raises(DataError, match="g.jsonl: line 1: answer has no"):
        list(source_rows("gsm8k")(path))
    path = write_jsonl(tmp_path / "m.jsonl", [{"question": "q", "choices": ["a", "b"], "answer": 5}])
    with pytest.raises(DataError, match="m.jsonl: line 1: 'answer'"):
        list(source_rows("mmlu_stem")(path))


def test_preprocess_source_cli_writes_parquet_then_preprocess_reads_it(cli, shared_data, tmp_path):
    """`preprocess-source gsm8k --limit 4` then `preprocess` gives rows whose query ids survive."""
    src = tmp_path / "src"
    code, out, err = cli(
        "preprocess-source", "gsm8k", "--input", shared_data / "evalsets", "--out", src, "--limit", "4"
    )
    assert code == 0, err
    table = pq.read_table(src / "gsm8k.parquet")
    assert table.num_rows == 4 and "gsm8k" in out
    assert cli("preprocess", "--input-dir", src, "--output-dir", tmp_path / "o", "--num-repetitions", "1")[0] == 0
    rows = pq.read_table(tmp_path / "o" / "gsm8k_4.parquet").to_pylist()
    assert sorted(r["extra_info"]["query_id"] for r in rows) == [f"gsm8k.test.{i}" for i in range(4)]
    assert rows[0]["extra_info"]["original_question"].startswith("Janet")


def test_routerbench_end_to_end_with_the_replay_catalog(cli, shared_data, tmp_path):
    """RouterBench rows preprocess with --catalog-only on the replay catalog; the shipped catalog is refused."""
    from importlib import resources

    replay = resources.files("xrouter").joinpath("resources", "routerbench_models.yaml")
    if not replay.is_file():
        pytest.skip("replay catalog not present")
    src = tmp_path / "src"
    csv = shared_data / "routerbench_slices" / "mbpp_train.csv"
    assert cli("preprocess-source", "routerbench", "--input", csv, "--out", src, "--limit", "5")[0] == 0
    code, _, err = cli("preprocess", "--input-dir", src, "--output-dir", tmp_path / "bad")
    assert code == 2 and "--catalog-only" in err
    code, _, err = cli(
        "preprocess", "--input-dir", src, "--output-dir", tmp_path / "o", "--catalog", str(replay), "--catalog-only"
    )
    assert code == 0, err
    rows = pq.read_table(tmp_path / "o" / "mbpp_train_15.parquet").to_pylist()
    for r in rows:
        assert set(r["extra_info"]["model_pool"]) <= set(r["extra_info"]["recorded_models"])
        assert r["extra_info"]["dataset"] == "mbpp"


def test_guru_adapter_adds_query_ids(cli, guru_dir, tmp_path):
    """Guru parquet files pass through with extra_info.query_id added."""
    code, _, err = cli("preprocess-source", "guru", "--input", guru_dir, "--out", tmp_path / "g")
    assert code == 0, err
    rows = pq.read_table(tmp_path / "g" / "toy_8.parquet").to_pylist()
    assert [r["extra_info"]["query_id"] for r in rows] == [f"math__toy.{i}" for i in range(8)]
    assert rows[2]["prompt"][0]["role"] == "system"


def test_every_source_is_registered_with_a_module():
    """The registry lists the eight adapters and each exposes rows()."""
    assert set(SOURCES) == {"gsm8k", "math500", "mmlu_stem", "humaneval", "aime24", "routerbench", "routellm", "guru"}
    assert all(callable(source_rows(name)) for name in SOURCES)
