"""Fixtures for the data tests: guru rows in memory, an input folder, a tiny local tokenizer, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from xrouter.catalog import Catalog, load_catalog
from xrouter.cli.main import main

LONG_SYSTEM = "Always answer in formal English. " * 80  # ~2,600 characters: above the 2,000 default


def _guru(i: int, prompt: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "data_source": "math__toy",
        "prompt": prompt,
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": str(i + 1)},
        "extra_info": {"split": "train", "index": i, "original_question": f"What is {i} + 1?"},
    }


@pytest.fixture
def guru_rows() -> list[dict[str, Any]]:
    """Eight guru rows: plain user turns, a short user system prompt and a long one."""
    rows = []
    for i in range(8):
        prompt = [{"role": "user", "content": f"What is {i} + 1?"}]
        if i == 1:
            prompt.insert(0, {"role": "system", "content": "Be terse."})
        if i == 2:
            prompt.insert(0, {"role": "system", "content": LONG_SYSTEM})
        rows.append(_guru(i, prompt))
    return rows


@pytest.fixture
def guru_dir(tmp_path: Path, guru_rows: list[dict[str, Any]]) -> Path:
    """A folder with the eight rows as `toy_8.parquet`."""
    folder = tmp_path / "in"
    folder.mkdir()
    pd.DataFrame(guru_rows).to_parquet(folder / "toy_8.parquet")
    return folder


@pytest.fixture
def write_jsonl():
    """Write text lines (or objects) to a JSONL file."""

    def write(path: Path, items: list[Any]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in items), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The shipped catalog."""
    return load_catalog(use_env=False)


@pytest.fixture
def cli(capsys):
    """Run `xrouter ...` in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


# A Qwen-style chat template that renders the tools JSON into the system turn.
_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n{%- if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n\n"
    "{%- endif %}# Tools\n<tools>{%- for tool in tools %}\n{{ tool | tojson }}{%- endfor %}\n</tools><|im_end|>\n"
    "{%- elif messages[0]['role'] == 'system' %}<|im_start|>system\n{{ messages[0]['content'] }}<|im_end|>\n{%- endif %}"
    "{%- for m in messages %}{%- if m['role'] != 'system' %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{%- endif %}{%- endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> Path:
    """A byte-level BPE tokenizer trained here in about a second, saved with a tool-rendering chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = ['You are a routing assistant. call_gpt_5_mini select_response What is 1 + 1? {"type": "function"}'] * 20
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = _TEMPLATE
    folder = tmp_path_factory.mktemp("tiny_tok")
    fast.save_pretrained(folder)
    return folder
