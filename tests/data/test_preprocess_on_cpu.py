"""`xrouter preprocess` end to end: outputs, aliases, determinism, fixed sets, workers and error paths."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from xrouter.data.rows import decode_tools_kwargs
from xrouter.engine.prompts import router_messages


def _read(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_preprocess_writes_one_parquet_per_input_and_a_generation_config(cli, guru_dir, tmp_path, catalog):
    """Default run: renamed output with every row's pool from the catalog, plus generation_config.yaml."""
    out = tmp_path / "out"
    code, stdout, _ = cli("preprocess", "--input-dir", guru_dir, "--output-dir", out, "--max-num-samples", "10")
    assert code == 0, stdout
    rows = _read(out / "toy_10.parquet")  # the `_8` count suffix is replaced by the new count
    assert len(rows) == 10
    assert [r["extra_info"]["index"] for r in rows] == list(range(10))
    for r in rows:
        extra = r["extra_info"]
        assert r["agent_name"] == "xrouter_agent"
        assert r["prompt"] == router_messages(extra["user_messages"], "agent", 2000)
        assert extra["tool_selection"] == [catalog.get(m).tool_name for m in extra["model_pool"]]
        assert set(decode_tools_kwargs(extra["tools_kwargs"])) == {*extra["tool_selection"], "select_response"}
        assert extra["model_set_type"] == "random" and extra["mode"] == "agent"
    record = yaml.safe_load((out / "generation_config.yaml").read_text())
    assert record["seed"] == 42 and record["catalog"]["version"] == catalog.version
    assert record["files"][0]["output_rows"] == 10 and record["system_prompt_chars"] == len(
        rows[0]["prompt"][0]["content"]
    )
    assert record["tier_ranges"]["premium"] == [1, 7]
    assert record["catalog"]["tier_sizes"]["premium"] == len(catalog.by_tier("premium"))
    assert record["catalog"]["tier_models"]["budget"] == [m.id for m in catalog.by_tier("budget")]
    assert record["files"][0]["set_types"] == {"random": 10}
    assert sum(record["files"][0]["pool_sizes"].values()) == 10
    assert "toy_8.parquet" in stdout


def test_underscore_aliases_and_seed_give_identical_output(cli, guru_dir, tmp_path, catalog):
    """Upstream spellings work and the same seed reproduces the file byte for byte in content."""
    a, b = tmp_path / "a", tmp_path / "b"
    args = [
        "--num_repetitions",
        "2",
        "--max_num_samples",
        "12",
        "--premium_min",
        "0",
        "--premium_max",
        "1",
        "--seed",
        "3",
    ]
    assert cli("preprocess", "--input_dir", guru_dir, "--output_dir", a, *args)[0] == 0
    assert cli("preprocess", "--input-dir", guru_dir, "--output-dir", b, *[x.replace("_", "-") for x in args])[0] == 0
    rows_a, rows_b = _read(a / "toy_12.parquet"), _read(b / "toy_12.parquet")
    assert rows_a == rows_b
    for r in rows_a:  # --premium_max 1 took effect
        assert sum(catalog.get(m).tier == "premium" for m in r["extra_info"]["model_pool"]) <= 1
    assert {r["extra_info"]["version"] for r in rows_a} <= {0, 1}


def test_fixed_set_shares_in_the_output(cli, guru_dir, tmp_path, catalog):
    """--use-fixed-sets assigns int(max * pct) rows to each set with exactly the set's models."""
    out = tmp_path / "out"
    code, _, err = cli(
        "preprocess", "--input-dir", guru_dir, "--output-dir", out, "--max-num-samples", "8", "--num-repetitions", "1",
        "--use-fixed-sets", "--fixed-set-1-percentage", "0.5", "--fixed-set-2-percentage", "0.25",
        "--fixed-set-3-percentage", "0",
    )  # fmt: skip
    assert code == 0, err
    rows = _read(out / "toy_8.parquet")
    kinds = [r["extra_info"]["model_set_type"] for r in rows]
    assert kinds.count("fixed_set_1") == 4 and kinds.count("fixed_set_2") == 2 and kinds.count("random") == 2
    for r in rows:
        if r["extra_info"]["model_set_type"] == "fixed_set_1":
            assert r["extra_info"]["model_pool"] == [m.id for m in catalog.fixed_set(1)]
    assert len({r["extra_info"]["query_id"] for r in rows}) == 8  # parts use disjoint source rows


def test_simple_mode_and_fixed_set_only(cli, guru_dir, tmp_path):
    """--simple-mode with --use-fixed-set-only: simple prompt, set-3 pools and no select_response field."""
    out = tmp_path / "out"
    code, _, err = cli(
        "preprocess", "--input-dir", guru_dir, "--output-dir", out, "--simple-mode", "--use-fixed-set-only",
        "--fixed-set-choice", "3", "--max-num-samples", "5",
    )  # fmt: skip
    assert code == 0, err
    rows = _read(out / "toy_5.parquet")
    assert len(rows) == 5
    for r in rows:
        assert r["extra_info"]["mode"] == "simple" and r["extra_info"]["model_set_type"] == "fixed_set_3"
        assert r["prompt"] == router_messages(r["extra_info"]["user_messages"], "simple")
        assert "select_response" not in r["extra_info"]["tools_kwargs"]
        assert None not in r["extra_info"]["tools_kwargs"].values()  # the file holds only set-3 tools


def test_worker_processes_give_the_same_rows_as_one_process(cli, guru_dir, tmp_path):
    """--workers 2 with small batches produces the same file as a sequential run."""
    common = ["--input-dir", guru_dir, "--max-num-samples", "0", "--batch-size", "3"]
    assert cli("preprocess", *common, "--output-dir", tmp_path / "one", "--workers", "1")[0] == 0
    assert cli("preprocess", *common, "--output-dir", tmp_path / "two", "--workers", "2")[0] == 0
    assert _read(tmp_path / "one" / "toy_24.parquet") == _read(tmp_path / "two" / "toy_24.parquet")


def test_jsonl_input_and_bad_json_leaves_no_output(cli, tmp_path, guru_rows, write_jsonl):
    """A JSONL input works; a bad line fails with exit 2 naming file and line, and nothing is written."""
    folder = tmp_path / "in"
    write_jsonl(folder / "a.jsonl", guru_rows[:3])
    write_jsonl(folder / "b.jsonl", [guru_rows[0], "{not json"])
    out = tmp_path / "out"
    code, _, err = cli("preprocess", "--input-dir", folder, "--output-dir", out)
    assert code == 2
    assert "b.jsonl: line 2: bad JSON" in err
    assert not out.exists() or not any(out.iterdir())
    (folder / "b.jsonl").unlink()
    assert cli("preprocess", "--input-dir", folder, "--output-dir", out)[0] == 0
    assert len(_read(out / "a_9.parquet")) == 9


def test_malformed_rows_and_columns_exit_2_without_partial_files(cli, tmp_path, guru_rows, write_jsonl):
    """Empty prompt (naming the line) and a missing column (naming the file) exit 2 and write nothing."""
    folder = tmp_path / "in"
    bad = [guru_rows[0], {**guru_rows[1], "prompt": [{"role": "user", "content": ""}]}]
    write_jsonl(folder / "a.jsonl", bad)
    out = tmp_path / "out"
    code, _, err = cli("preprocess", "--input-dir", folder, "--output-dir", out, "--max-num-samples", "0")
    assert code == 2 and "a.jsonl: line 2: empty prompt" in err
    assert not out.exists() or not list(out.iterdir())
    write_jsonl(folder / "a.jsonl", [{k: v for k, v in guru_rows[0].items() if k != "reward_model"}])
    code, _, err = cli("preprocess", "--input-dir", folder, "--output-dir", out)
    assert code == 2 and "a.jsonl: missing column(s) reward_model" in err


def test_unknown_model_in_a_user_fixed_set_exits_2(cli, guru_dir, tmp_path):
    """A user catalog whose fixed set names an unknown model is a one-line error, exit 2."""
    user = tmp_path / "cat.yaml"
    user.write_text('fixed_sets:\n  "1": [gpt-5, no-such-model]\n')
    code, _, err = cli("preprocess", "--input-dir", guru_dir, "--output-dir", tmp_path / "o", "--catalog", user)
    assert code == 2 and "no-such-model" in err and len(err.strip().splitlines()) == 1


def test_existing_output_needs_overwrite(cli, guru_dir, tmp_path):
    """A second run into the same folder refuses without --overwrite and succeeds with it."""
    out = tmp_path / "out"
    assert cli("preprocess", "--input-dir", guru_dir, "--output-dir", out)[0] == 0
    code, _, err = cli("preprocess", "--input-dir", guru_dir, "--output-dir", out)
    assert code == 2 and "--overwrite" in err
    assert cli("preprocess", "--input-dir", guru_dir, "--output-dir", out, "--overwrite")[0] == 0


def test_catalog_only_requires_a_catalog_file(cli, guru_dir, tmp_path):
    """--catalog-only without --catalog is a usage error."""
    code, _, err = cli("preprocess", "--input-dir", guru_dir, "--output-dir", tmp_path / "o", "--catalog-only")
    assert code == 2 and "--catalog-only needs" in err


def test_a_bad_row_inside_a_worker_process_is_reported_the_same_way(cli, tmp_path, guru_rows, write_jsonl):
    """With worker processes the DataError of a bad row still exits 2 naming the line, and nothing is written."""
    rows = [*guru_rows, {**guru_rows[0], "prompt": [{"role": "assistant", "content": "hi"}]}]
    write_jsonl(tmp_path / "in" / "a.jsonl", rows)
    out = tmp_path / "out"
    code, _, err = cli(
        "preprocess", "--input-dir", tmp_path / "in", "--output-dir", out, "--workers", "2", "--batch-size", "2",
        "--max-num-samples", "0",
    )  # fmt: skip
    assert code == 2 and "a.jsonl: line 9: empty prompt" in err
    assert not out.exists() or not list(out.iterdir())


def test_jsonl_line_with_a_conflicting_type_is_named(cli, tmp_path, guru_rows, write_jsonl):
    """A JSONL line whose prompt is a string among message lists is reported by its line number."""
    write_jsonl(tmp_path / "in" / "a.jsonl", [*guru_rows[:3], {**guru_rows[3], "prompt": "just text"}])
    code, _, err = cli("preprocess", "--input-dir", tmp_path / "in", "--output-dir", tmp_path / "out")
    assert code == 2 and "a.jsonl: line 4: a field's type differs" in err


def test_error_output_is_exactly_one_line(cli, tmp_path, guru_rows, write_jsonl):
    """A data error prints one line on stderr (no stray progress-bar line before it)."""
    write_jsonl(tmp_path / "in" / "a.jsonl", [{**guru_rows[0], "prompt": [{"role": "user", "content": ""}]}])
    code, _, err = cli("preprocess", "--input-dir", tmp_path / "in", "--output-dir", tmp_path / "out")
    assert code == 2 and err.splitlines() == ["xrouter preprocess: error: " + f"{tmp_path}/in/a.jsonl: line 1: "
                                              "empty prompt (no user message with text)"]  # fmt: skip


def test_rows_without_usable_labels_are_named(cli, tmp_path, guru_rows, write_jsonl):
    """A null reward_model, one without ground_truth, or an empty data_source exits 2 naming the line."""
    cases = [
        ({"reward_model": None}, "'reward_model' must be a mapping with a ground_truth"),
        ({"reward_model": {"style": "rule"}}, "'reward_model' must be a mapping with a ground_truth"),
        ({"data_source": ""}, "'data_source' must be a non-empty string"),
    ]
    for n, (change, message) in enumerate(cases):
        folder = tmp_path / f"in{n}"
        write_jsonl(folder / "a.jsonl", [guru_rows[0], {**guru_rows[1], **change}])
        code, _, err = cli("preprocess", "--input-dir", folder, "--output-dir", tmp_path / f"out{n}")
        assert code == 2 and f"a.jsonl: line 2: {message}" in err, err
        assert not (tmp_path / f"out{n}").exists() or not list((tmp_path / f"out{n}").iterdir())


def test_bad_folders_and_empty_inputs_exit_2(cli, guru_dir, tmp_path, guru_rows):
    """Output folder that is a file or equals the input, empty parquet/JSONL inputs, negative sample counts."""
    (tmp_path / "file").write_text("x")
    code, _, err = cli("preprocess", "--input-dir", guru_dir, "--output-dir", tmp_path / "file")
    assert code == 2 and "is a file" in err
    code, _, err = cli("preprocess", "--input-dir", guru_dir, "--output-dir", guru_dir)
    assert code == 2 and "must differ from --input-dir" in err
    code, _, err = cli("preprocess", "--input-dir", guru_dir, "--output-dir", tmp_path / "o", "--max-num-samples", -1)
    assert code == 2 and "--max-num-samples must be >= 0" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    pq.write_table(pa.Table.from_pylist(guru_rows).slice(0, 0), empty / "e.parquet")
    code, _, err = cli("preprocess", "--input-dir", empty, "--output-dir", tmp_path / "o")
    assert code == 2 and "e.parquet: no rows" in err
    (empty / "e.parquet").unlink()
    (empty / "e.jsonl").write_text("\n")
    code, _, err = cli("preprocess", "--input-dir", empty, "--output-dir", tmp_path / "o")
    assert code == 2 and "e.jsonl: no JSON lines" in err
    assert not (tmp_path / "o").exists()


def test_router_rows_are_not_preprocessed_twice(cli, guru_dir, tmp_path):
    """Feeding an output folder back in is refused instead of wrapping the router prompt a second time."""
    out = tmp_path / "out"
    assert cli("preprocess", "--input-dir", guru_dir, "--output-dir", out, "--max-num-samples", "4")[0] == 0
    (out / "generation_config.yaml").unlink()
    code, _, err = cli("preprocess", "--input-dir", out, "--output-dir", tmp_path / "again")
    assert code == 2 and "toy_4.parquet: already holds router training rows" in err


def test_missing_column_in_a_later_file_fails_before_any_output(cli, tmp_path, guru_rows, write_jsonl):
    """Every input's columns are checked first: nothing is written when the second file lacks a column."""
    write_jsonl(tmp_path / "in" / "a.jsonl", guru_rows[:3])
    write_jsonl(tmp_path / "in" / "b.jsonl", [{k: v for k, v in guru_rows[0].items() if k != "prompt"}])
    code, _, err = cli("preprocess", "--input-dir", tmp_path / "in", "--output-dir", tmp_path / "out")
    assert code == 2 and "b.jsonl: missing column(s) prompt" in err
    assert not (tmp_path / "out").exists()


def test_deprecated_fixed_set_percentage_is_accepted_with_a_warning(cli, guru_dir, tmp_path):
    """The upstream's deprecated --fixed_set_percentage parses, warns, and changes nothing."""
    base = ["preprocess", "--input-dir", guru_dir, "--max-num-samples", "6", "--use_fixed_sets"]
    code, _, err = cli(*base, "--output-dir", tmp_path / "a", "--fixed_set_percentage", "0.9")
    assert code == 0 and "--fixed-set-percentage is deprecated" in err
    assert cli(*base, "--output-dir", tmp_path / "b")[0] == 0
    assert _read(tmp_path / "a" / "toy_6.parquet") == _read(tmp_path / "b" / "toy_6.parquet")
