"""`xrouter preprocess --cost-lambda`: λ per row (list or distribution), reproducible, and fixed λ = today's rows.

Run: .venv/bin/python -m pytest -q tests/data/test_lambdas_on_cpu.py
"""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from xrouter.data.lambdas import parse_lambda_spec
from xrouter.engine.prompts import prompt_cost_lambda, router_messages, router_system_prompt
from xrouter.errors import UsageError

# Extra-info fields of a row before λ could vary: a fixed λ must write exactly these.
PRE_LAMBDA_EXTRA = {"split", "index", "original_question", "query_id", "user_messages", "need_tools_kwargs",
                    "tools_kwargs", "tool_selection", "model_pool", "model_set_type", "mode", "version", "source_row"}  # fmt: skip


def _rows(folder: Path) -> list[dict]:
    (path,) = folder.glob("*.parquet")
    return pq.read_table(path).to_pylist()


def _run(cli, guru_dir: Path, out: Path, *extra: str) -> None:
    code, stdout, stderr = cli("preprocess", "--input-dir", guru_dir, "--output-dir", out, "--max-num-samples", "0",
                               "--workers", "1", *extra)  # fmt: skip
    assert code == 0, stdout + stderr


def test_a_distribution_gives_per_row_values_in_range_stated_in_the_prompt(cli, guru_dir, tmp_path):
    """loguniform:0.3:30: every row gets its own λ inside the range, in extra_info and in its router prompt."""
    _run(cli, guru_dir, tmp_path / "out", "--cost-lambda", "loguniform:0.3:30")
    rows = _rows(tmp_path / "out")
    lambdas = [r["extra_info"]["cost_lambda"] for r in rows]
    assert len(rows) == 24 and all(0.3 <= v <= 30 for v in lambdas)
    assert len(set(lambdas)) > 12  # drawn per row, not per file
    assert min(lambdas) < 3 < max(lambdas)  # both sides of the log-midpoint
    for row, lam in zip(rows, lambdas, strict=True):
        assert float(f"{lam:.3g}") == lam  # rounded, so the prompt states exactly the reward's λ
        assert prompt_cost_lambda(row["prompt"]) == lam
        assert row["prompt"] == router_messages(row["extra_info"]["user_messages"], "agent", 2000, lam)
    record = yaml.safe_load((tmp_path / "out" / "generation_config.yaml").read_text())
    assert record["cost_lambda"] == {"spec": "loguniform:0.3:30", "kind": "loguniform", "values": [0.3, 30.0],
                                     "per_row": True}  # fmt: skip
    assert record["files"][0]["cost_lambda"]["min"] == min(lambdas)


def test_a_list_draws_only_its_values_and_the_seed_reproduces_them(cli, guru_dir, tmp_path):
    """1,3,10: values from the list only; same seed -> same rows; another seed -> other draws; workers agree."""
    _run(cli, guru_dir, tmp_path / "a", "--cost-lambda", "1,3,10", "--seed", "5")
    _run(cli, guru_dir, tmp_path / "b", "--cost-lambda", "1,3,10", "--seed", "5", "--batch-size", "3")
    _run(cli, guru_dir, tmp_path / "c", "--cost-lambda", "1,3,10", "--seed", "6")
    code, out, err = cli("preprocess", "--input-dir", guru_dir, "--output-dir", tmp_path / "d", "--max-num-samples",
                         "0", "--cost-lambda", "1,3,10", "--seed", "5", "--workers", "2", "--batch-size", "3")  # fmt: skip
    assert code == 0, out + err
    a, b, c, d = (_rows(tmp_path / x) for x in "abcd")
    lam = [r["extra_info"]["cost_lambda"] for r in a]
    assert set(lam) == {1.0, 3.0, 10.0}
    assert a == b == d  # batch size and worker processes do not change the draws
    assert lam != [r["extra_info"]["cost_lambda"] for r in c]
    # a row's λ depends on (seed, file, source row, version), like its pool
    assert [r["extra_info"]["model_pool"] for r in a] != [r["extra_info"]["model_pool"] for r in c]


def test_a_fixed_lambda_gives_todays_rows_byte_for_byte(cli, guru_dir, tmp_path):
    """--cost-lambda 3 writes the same file as no flag: no λ field, and the pre-λ router prompt."""
    _run(cli, guru_dir, tmp_path / "plain")
    _run(cli, guru_dir, tmp_path / "fixed", "--cost-lambda", "3")
    (plain,), (fixed,) = (tmp_path / "plain").glob("*.parquet"), (tmp_path / "fixed").glob("*.parquet")
    assert plain.read_bytes() == fixed.read_bytes()
    for row in _rows(tmp_path / "fixed"):
        assert set(row["extra_info"]) == PRE_LAMBDA_EXTRA
        assert row["prompt"][0] == {"role": "system", "content": router_system_prompt("agent")}
        assert prompt_cost_lambda(row["prompt"]) is None
    record = yaml.safe_load((tmp_path / "fixed" / "generation_config.yaml").read_text())
    assert record["cost_lambda"]["per_row"] is False and record["files"][0]["cost_lambda"] == {}


def test_choice_of_one_value_writes_it_into_every_row(cli, guru_dir, tmp_path):
    """choice:3 is the way to put one λ into every row's prompt (a bare 3 writes none)."""
    _run(cli, guru_dir, tmp_path / "out", "--cost-lambda", "choice:3", "--simple-mode")
    rows = _rows(tmp_path / "out")
    assert {r["extra_info"]["cost_lambda"] for r in rows} == {3.0}
    assert all(r["prompt"][0]["content"] == router_system_prompt("simple", 3.0) for r in rows)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("loguniform:0:30", "LO > 0"),
        ("uniform:5:1", "LO < HI"),
        ("1,x,3", "'x' is not a number"),
        ("gauss:1:2", "unknown kind 'gauss'"),
        ("-1", "between 0 and"),
        ("1e9", "between 0 and"),
        ("uniform:1", "needs LO:HI"),
        ("nan", "between 0 and"),
    ],
)
def test_bad_specs_are_usage_errors_that_say_what_to_write(spec, message):
    """Every malformed --cost-lambda names itself and what is wrong."""
    with pytest.raises(UsageError, match=message) as info:
        parse_lambda_spec(spec)
    assert spec in str(info.value)


def test_a_bad_spec_exits_2_before_any_output(cli, guru_dir, tmp_path):
    """The CLI refuses a bad spec with exit 2 and writes nothing."""
    code, _, err = cli("preprocess", "--input-dir", guru_dir, "--output-dir", tmp_path / "out", "--cost-lambda",
                       "loguniform:0:3")  # fmt: skip
    assert code == 2 and "--cost-lambda" in err
    assert not (tmp_path / "out").exists()


def test_uniform_draws_stay_inside_the_range_after_rounding():
    """Rounding to three significant digits never leaves [LO, HI]."""
    spec = parse_lambda_spec("uniform:0.1234:0.1236")
    values = [spec.draw(0, "f", i, 0) for i in range(200)]
    assert all(0.1234 <= v <= 0.1236 for v in values) and not any(math.isnan(v) for v in values)
