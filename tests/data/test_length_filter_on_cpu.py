"""`xrouter filter-length`: token counts include the rendered tool schemas; long rows are dropped."""

from __future__ import annotations

import pyarrow.parquet as pq
import yaml

from xrouter.catalog import openai_tools
from xrouter.data.length_filter import LengthReport, token_count


def _preprocessed(cli, guru_dir, tmp_path):
    out = tmp_path / "train"
    assert cli("preprocess", "--input-dir", guru_dir, "--output-dir", out, "--num-repetitions", "1")[0] == 0
    return out


def test_token_count_includes_tool_schemas(tiny_tokenizer, catalog, guru_rows):
    """More pooled tools means more prompt tokens; no tools gives the bare prompt length."""
    from transformers import AutoTokenizer

    from xrouter.engine.prompts import router_messages

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer)
    prompt = router_messages(guru_rows[0]["prompt"], "agent")
    bare = token_count(tok, prompt, [])
    one = token_count(tok, prompt, openai_tools(catalog, ["gpt-5-mini"]))
    three = token_count(tok, prompt, openai_tools(catalog, ["gpt-5-mini", "o3", "kimi-k2"]))
    assert bare < one < three
    rendered = tok.apply_chat_template(prompt, tools=openai_tools(catalog, ["o3"]), tokenize=False)
    assert "call_o3" in rendered and "select_response" in rendered


def test_filter_length_drops_long_rows_and_reports_the_distribution(cli, guru_dir, tmp_path, tiny_tokenizer):
    """A limit at the median keeps the short half; the report and the table show the counts."""
    data = _preprocessed(cli, guru_dir, tmp_path)
    code, out, err = cli("filter-length", "--data-dir", data, "--tokenizer", tiny_tokenizer, "--max-tokens", "10000000")
    assert code == 0, err
    report = yaml.safe_load((tmp_path / "train_filtered_10000000" / "length_report.yaml").read_text())
    p50 = report["summary"]["p50"]
    assert report["summary"]["rows"] == 8 and report["summary"]["dropped"] == 0
    filtered = tmp_path / "short"
    code, out, err = cli(
        "filter-length",
        "--data_dir",
        data,
        "--tokenizer",
        tiny_tokenizer,
        "--max_tokens",
        p50,
        "--output-dir",
        filtered,
    )
    assert code == 0, err
    kept = pq.read_table(filtered / "toy_8.parquet")
    summary = yaml.safe_load((filtered / "length_report.yaml").read_text())["summary"]
    assert kept.num_rows == summary["kept"] and 4 <= kept.num_rows < 8
    assert summary["kept"] + summary["dropped"] == 8
    assert "p95" in out and "histogram" in out
    assert kept.schema.equals(pq.read_schema(data / "toy_8.parquet"))


def test_filter_length_errors(cli, guru_dir, tmp_path, tiny_tokenizer):
    """Missing folder, non-training parquet and a bad tokenizer path exit 2 with one line."""
    code, _, err = cli(
        "filter-length", "--data-dir", tmp_path / "nope", "--tokenizer", tiny_tokenizer, "--max-tokens", 5
    )
    assert code == 2 and "no such folder" in err
    code, _, err = cli("filter-length", "--data-dir", guru_dir, "--tokenizer", tiny_tokenizer, "--max-tokens", 5)
    assert code == 2 and "model_pool" in err
    assert not (tmp_path / "in_filtered_5" / "toy_8.parquet").exists()
    data = _preprocessed(cli, guru_dir, tmp_path)
    code, _, err = cli("filter-length", "--data-dir", data, "--tokenizer", tmp_path / "no_tok", "--max-tokens", 5)
    assert code == 2 and "tokenizer" in err


def test_length_report_histogram_covers_every_row():
    """Histogram buckets add up to the number of rows."""
    report = LengthReport(max_tokens=10, lengths=[1, 5, 9, 12, 30])
    assert sum(c for _, _, c in report.histogram(4)) == 5
    assert report.summary()["kept"] == 3 and report.summary()["max"] == 30


def test_unreadable_parquet_and_bad_numbers_exit_2_before_tokenizing(cli, guru_dir, tmp_path, tiny_tokenizer):
    """A corrupt parquet beside good ones is one line naming it; --max-tokens/--bins below 1 are usage errors."""
    data = _preprocessed(cli, guru_dir, tmp_path)
    (data / "broken.parquet").write_bytes(b"garbage")
    code, _, err = cli("filter-length", "--data-dir", data, "--tokenizer", tiny_tokenizer, "--max-tokens", 50)
    assert code == 2 and "broken.parquet: not a readable parquet file" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "train_filtered_50").exists()
    (data / "broken.parquet").unlink()
    base = ["filter-length", "--data-dir", data, "--tokenizer", tiny_tokenizer]
    for extra in (["--max-tokens", 0], ["--max-tokens", 50, "--bins", 0]):
        code, _, err = cli(*base, *extra)
        assert code == 2 and "must be at least 1" in err
