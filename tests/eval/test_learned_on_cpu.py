"""Learned kNN / MLP routers: fitted on one part of the train files, benchmarked on the other."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from xrouter.cli.main import main
from xrouter.data.outcomes import load_outcomes
from xrouter.eval.fitting import fit_router
from xrouter.eval.learned import LearnedRouter, parse_learned_policy
from xrouter.eval.split import select_split


@pytest.fixture(scope="module")
def knn_dir(train_subset, embedding_cache, tmp_path_factory):
    """A kNN router fitted with `xrouter fit-router` on the fit split of a 400-row subset of the train files."""
    out = tmp_path_factory.mktemp("knn")
    args = ["fit-router", "--kind", "knn", "--out", str(out), "--embedding-cache", str(embedding_cache),
            "--data", str(train_subset)]  # fmt: skip
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Module-scoped monkeypatch (bench reads the embedding cache folder from the environment)."""
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_fit_split_and_eval_split_never_overlap(train_subset, knn_dir) -> None:
    """The router stores its fit ids; none of them is in the held-out split bench evaluates."""
    router = LearnedRouter.load(knn_dir)
    ids = list(load_outcomes(train_subset).queries()["query_id"])
    held_out = set(select_split(ids, "eval", holdout=0.3, seed=0))
    assert router.spec.fit_query_ids and not held_out & set(router.spec.fit_query_ids)
    assert 0.6 * len(ids) < len(router.spec.fit_query_ids) < 0.8 * len(ids)


def test_learned_router_beats_random_at_lower_cost(train_subset, knn_dir, embedding_cache, tmp_path,
                                                   monkeypatch_module) -> None:  # fmt: skip
    """On the held-out split, learned:DIR:100 is more accurate than random and costs no more."""
    monkeypatch_module.setenv("XROUTER_CACHE_DIR", str(embedding_cache))
    args = ["bench", "--split", "eval", "--out", str(tmp_path), "--policy", "random", "--policy",
            f"learned:{knn_dir}:100", "--no-plot", "--dataset", str(train_subset)]  # fmt: skip
    assert main(args) == 0
    pooled = pd.read_csv(tmp_path / "summary.csv").query("dataset == 'all'").set_index("policy")
    learned, rnd = pooled.loc[f"learned:{knn_dir}:100"], pooled.loc["random"]
    assert learned["n"] == rnd["n"] > 80
    assert learned["accuracy"] > rnd["accuracy"] + 0.05
    assert learned["cost_per_1k_usd"] <= rnd["cost_per_1k_usd"]


def test_bench_refuses_to_evaluate_a_router_on_its_fit_rows(train_subset, knn_dir, tmp_path) -> None:
    """Benchmarking the fit split with that router is a usage error (exit 2), not a flattering number."""
    args = ["bench", "--split", "fit", "--dataset", str(train_subset), "--out", str(tmp_path),
            "--policy", f"learned:{knn_dir}"]  # fmt: skip
    assert main(args) == 2


def test_lambda_trades_quality_for_cost_and_mlp_round_trips(tmp_path) -> None:
    """lambda 0 picks the always-right dear model, a huge lambda the cheap one; a saved MLP reloads identically."""
    rng = np.random.default_rng(0)
    n = 120
    emb = rng.normal(size=(n, 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    rows = []
    for i in range(n):
        rows.append({"dataset": "toy", "query_id": f"q{i}", "query_text": f"t{i}", "model": "dear", "response": "",
                     "cost_usd": 0.01, "score": 1.0})  # fmt: skip
        rows.append({"dataset": "toy", "query_id": f"q{i}", "query_text": f"t{i}", "model": "cheap", "response": "",
                     "cost_usd": 0.0001, "score": 0.0})  # fmt: skip
    from xrouter.data.outcomes import OutcomeTable

    frame = pd.DataFrame(rows).assign(input_tokens=np.nan, output_tokens=np.nan, cached_input_tokens=np.nan)
    table = OutcomeTable(frame)
    knn = fit_router(table, emb, kind="knn", k=5)
    assert (knn.choose(emb, 0.0) == knn.models.index("dear")).all()
    assert (knn.choose(emb, 1e6) == knn.models.index("cheap")).all()
    mlp = fit_router(table, emb, kind="mlp", hidden=16)
    mlp.save(tmp_path / "mlp")
    again = LearnedRouter.load(tmp_path / "mlp")
    np.testing.assert_allclose(again.predict(emb)[0], mlp.predict(emb)[0])
    assert json.loads((tmp_path / "mlp" / "router.json").read_text())["kind"] == "mlp"


def test_parse_learned_policy_splits_an_optional_lambda() -> None:
    """`DIR:30` has lambda 30; a bare folder has none."""
    assert parse_learned_policy("outputs/r:30") == ("outputs/r", 30.0)
    assert parse_learned_policy("outputs/r") == ("outputs/r", None)


def test_serve_learned_policy_through_router_bench_policy(slice30, knn_dir, embedding_cache, tmp_path,
                                                          monkeypatch_module) -> None:  # fmt: skip
    """`xrouter serve --policy learned:DIR` answers with the model the router picks; `router:<url>` scores it."""
    from xrouter.eval.embed import Embedder
    from xrouter.serve.app import create_app
    from xrouter.serve.background import BackgroundServer
    from xrouter.serve.state import ServeSettings

    monkeypatch_module.setenv("XROUTER_CACHE_DIR", str(embedding_cache))
    table = load_outcomes(slice30)
    settings = ServeSettings(models=tuple(table.models), policy=f"learned:{knn_dir}:100",
                             replay_data=(str(slice30),), ledger_path=None)  # fmt: skip
    with BackgroundServer(create_app(settings)) as server:
        args = ["bench", "--dataset", str(slice30), "--out", str(tmp_path), "--policy", f"router:{server.url}",
                "--no-plot", "--concurrency", "4"]  # fmt: skip
        assert main(args) == 0
    router = LearnedRouter.load(knn_dir)
    complete, _ = table.complete()
    queries = complete.queries()
    picks = router.choose(Embedder(embedding_cache).encode(list(queries["query_text"])), 100)
    expected = dict(zip(queries["query_id"], (router.models[p] for p in picks), strict=True))
    scores, costs = complete.pivot("score"), complete.pivot("cost_usd")
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == len(expected)
    for s in samples:
        model = expected[s["query_id"]]
        assert s["error"] is None and s["models"] == [model] and s["calls"] == 1
        assert s["score"] == scores.at[s["query_id"], model]
        assert s["cost_usd"] == pytest.approx(costs.at[s["query_id"], model], abs=1e-9)


def test_fit_router_rejects_bad_settings_before_embedding(slice30, tmp_path, monkeypatch) -> None:
    """--k 0, --hidden 0 and --quality-scale 0 exit 2 without loading the sentence model or writing the folder."""
    from xrouter.eval import embed

    def no_embedding(*args, **kwargs):
        raise AssertionError("embedded before checking the settings")

    monkeypatch.setattr(embed.Embedder, "encode", no_embedding)
    for flags in (["--k", "0"], ["--kind", "mlp", "--hidden", "0"], ["--quality-scale", "0"]):
        out = tmp_path / flags[-2].strip("-")
        assert main(["fit-router", "--data", str(slice30), "--out", str(out), *flags]) == 2
        assert not out.exists()


async def test_learned_policy_tries_the_next_model_after_a_failed_call(knn_dir) -> None:
    """After an `[error]` tool response the learned policy calls the next-best untried model, then selects it."""
    from xrouter.catalog import tool_name_for
    from xrouter.eval.serve_policy import LearnedRouterPolicy

    class FixedEmbedder:
        def encode(self, texts):
            vec = np.ones((len(texts), 384), dtype=np.float32)
            return vec / np.linalg.norm(vec, axis=1, keepdims=True)

    router = LearnedRouter.load(knn_dir)
    policy = LearnedRouterPolicy(router, 100.0, name="learned", embedder=FixedEmbedder())
    tools = [{"function": {"name": tool_name_for(m)}} for m in router.models] + [
        {"function": {"name": "select_response"}}
    ]
    chat = [{"role": "system", "content": "router"}, {"role": "user", "content": "USER REQUEST:\nWhat is 2+2?"}]
    first = (await policy.next_turn(chat, tools)).tool_calls[0].name
    chat += [{"role": "assistant", "tool_calls": [{"function": {"name": first}}]},
             {"role": "tool", "content": f"[error] call to {first} failed (server): boom"}]  # fmt: skip
    second = (await policy.next_turn(chat, tools)).tool_calls[0].name
    assert second != first and second.startswith("call_")
    chat += [{"role": "assistant", "tool_calls": [{"function": {"name": second}}]}, {"role": "tool", "content": "4"}]
    final = (await policy.next_turn(chat, tools)).tool_calls[0]
    assert final.name == "select_response" and json.loads(final.arguments)["model_call_name"] == second
