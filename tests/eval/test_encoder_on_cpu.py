"""The configurable query encoder: a local sentence-transformers folder is fitted with, saved and used in bench."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xrouter.cli.main import main
from xrouter.errors import UsageError
from xrouter.eval.embed import MODEL_NAME, Embedder
from xrouter.eval.learned import LearnedRouter


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 8-dimensional BERT sentence encoder with a character vocabulary, built locally."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("encoder")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz0123456789"]))
    config = BertConfig(vocab_size=41, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                        intermediate_size=16, max_position_embeddings=64)  # fmt: skip
    BertModel(config).save_pretrained(root / "hf")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(root / "hf")
    transformer = models.Transformer(str(root / "hf"), max_seq_length=32)
    SentenceTransformer(modules=[transformer, models.Pooling(8)], device="cpu").save(str(root / "st"))
    return root / "st"


def test_unknown_encoder_is_a_usage_error_naming_it(tmp_path) -> None:
    """A name that is neither the shipped encoder nor a model folder says what to use instead."""
    with pytest.raises(UsageError, match=r"encoder 'bge-huge'.*all-MiniLM-L6-v2 or a local"):
        Embedder(tmp_path, model="bge-huge")
    assert main(["fit-router", "--data", str(tmp_path), "--encoder", str(tmp_path), "--out", str(tmp_path / "r")]) == 2


def test_encoders_cache_apart(tiny_encoder, tmp_path) -> None:
    """The same text gets one cache entry per encoder, and the folder encoder's own dimension."""
    local, default = Embedder(tmp_path, model=str(tiny_encoder)), Embedder(tmp_path)
    assert default.model_name == MODEL_NAME and local.model_name == str(tiny_encoder.resolve())
    assert local.key("same text") != default.key("same text")
    vectors = local.encode(["abc", "xyz 12"])
    assert vectors.shape == (2, 8) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.array_equal(Embedder(tmp_path, model=str(tiny_encoder)).encode(["abc"])[0], vectors[0])  # from cache


def test_router_fitted_with_an_encoder_saves_it_and_bench_uses_it(slice30, tiny_encoder, tmp_path, monkeypatch):
    """fit-router --encoder stores the folder in router.json; bench embeds held-out queries with that encoder."""
    monkeypatch.setenv("XROUTER_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "table"
    args = ["fit-router", "--data", str(slice30), "--kind", "table", "--encoder", str(tiny_encoder),
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    spec = json.loads((out / "router.json").read_text())
    assert spec["embedding_model"] == str(tiny_encoder.resolve())
    assert LearnedRouter.load(out).arrays["task_W"].shape[0] == 8  # the task classifier reads 8-dim vectors
    bench = ["bench", "--dataset", str(slice30), "--split", "eval", "--policy", f"learned:{out}:50", "--no-plot",
             "--bootstrap", "0", "--out", str(tmp_path / "bench")]  # fmt: skip
    assert main(bench) == 0
    pooled = pd.read_csv(tmp_path / "bench" / "summary.csv").query("dataset == 'all'")
    assert pooled["n"].iloc[0] > 0 and pooled["errors"].iloc[0] == 0
