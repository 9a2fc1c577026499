"""Table, agree and verify routers on hand-made outcomes; the paired bootstrap; verify served over HTTP.

Run: .venv/bin/python -m pytest -q tests/eval/test_routers_on_cpu.py
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from xrouter.data.outcomes import OutcomeTable, load_outcomes
from xrouter.eval.bench import BenchConfig, run_bench
from xrouter.eval.bootstrap import paired_aiq_differences
from xrouter.eval.fitting import fit_router
from xrouter.eval.split import select_split


class HashEmbedder:
    """Deterministic unit vectors from the text's hash (a stand-in for the sentence model)."""

    def encode(self, texts):
        out = []
        for text in texts:
            rng = np.random.default_rng(int(hashlib.sha256(str(text).encode()).hexdigest()[:8], 16))
            vec = rng.normal(size=16)
            out.append(vec / np.linalg.norm(vec))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), 16)


def _write(rows: list[dict], path) -> OutcomeTable:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return load_outcomes(path)


def _row(task, qid, model, response, cost, score):
    return {"dataset": task, "query_id": qid, "query_text": f"{task} question {qid}: pick A-D", "model": model,
            "response": response, "cost_usd": cost, "score": score}  # fmt: skip


def _fit(table: OutcomeTable, kind: str, out):
    ids = select_split(list(table.queries()["query_id"]), "fit", holdout=0.3, seed=0)
    fit_table, _ = table.subset(ids).complete()
    emb = HashEmbedder().encode(list(fit_table.queries()["query_text"]))
    router = fit_router(fit_table, emb, kind=kind, folds=3, embed=HashEmbedder().encode)
    router.save(out)
    return router


def _bench(path, policies, out, **kw):
    config = BenchConfig([str(path)], policies, out_dir=str(out), split="eval", plot=False, **kw)
    result = run_bench(config, embedder=HashEmbedder())
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return result, samples


@pytest.fixture(scope="module")
def verify_data(tmp_path_factory):
    """One multiple-choice task: the cheap model is right (a bare letter) on even queries and hedges (wrong) on odd."""
    rows = []
    for i in range(240):
        easy = i % 2 == 0
        rows.append(_row("mc", f"q{i}", "cheap", "B" if easy else "I am not sure, sorry: maybe A or maybe C?",
                         0.001, 1.0 if easy else 0.0))  # fmt: skip
        rows.append(_row("mc", f"q{i}", "dear", "B", 0.02, 1.0))
    folder = tmp_path_factory.mktemp("verify")
    table = _write(rows, folder / "outcomes.jsonl")
    _fit(table, "verify", folder / "router")
    return folder


def test_table_picks_the_per_task_argmax_at_each_lambda() -> None:
    """On two tasks with different best models, the table's choice is argmax(mean score - lambda * mean cost)."""
    rows = []
    for task, acc in (("t1", {"a": 0.9, "b": 0.6, "c": 0.95}), ("t2", {"a": 0.2, "b": 0.7, "c": 0.8})):
        for i in range(60):
            for model, cost in (("a", 0.002), ("b", 0.001), ("c", 0.03)):
                rows.append(_row(task, f"{task}-{i}", model, "A", cost, float(i < acc[model] * 60)))
    frame = pd.DataFrame(rows).assign(input_tokens=np.nan, output_tokens=np.nan, cached_input_tokens=np.nan)
    table = OutcomeTable(frame)
    queries = table.queries()
    emb = np.array([[1.0, 0.0] if d == "t1" else [0.0, 1.0] for d in queries["dataset"]]) + 0.01
    router = fit_router(table, emb, kind="table")
    scores, costs = table.pivot("score"), table.pivot("cost_usd")
    for lam in (0.0, 5.0, 20.0, 100.0, 1e4):
        picks = router.choose(emb, lam)
        for task in ("t1", "t2"):
            ids = list(queries.loc[queries["dataset"] == task, "query_id"])
            expected = (scores.loc[ids].mean() - lam * costs.loc[ids].mean()).idxmax()
            chosen = {router.models[p] for p, d in zip(picks, queries["dataset"], strict=True) if d == task}
            assert chosen == {expected}, (lam, task)


def test_bootstrap_of_a_router_against_itself_contains_zero_and_is_reproducible() -> None:
    """The same family against itself gives exactly 0; a noisy family's interval is the same for one seed."""
    rng = np.random.default_rng(1)
    n = 300
    points = {f"r:{k}": (rng.integers(0, 2, n).astype(float), rng.uniform(0.0001, 0.004, n) * (k + 1)) for k in range(3)}
    points.update({f"s:{k}": (rng.integers(0, 2, n).astype(float), rng.uniform(0.0001, 0.004, n) * (k + 1))
                   for k in range(3)})  # fmt: skip
    families = {"r": ["r:0", "r:1", "r:2"], "s": ["s:0", "s:1", "s:2"]}
    first = paired_aiq_differences(points, families, "r", cost_range=(0.5, 4.0), resamples=200, seed=7)
    again = paired_aiq_differences(points, families, "r", cost_range=(0.5, 4.0), resamples=200, seed=7)
    assert first["r"].low <= 0.0 <= first["r"].high and first["r"].value == 0.0
    assert first["s"] == again["s"] and first["s"].low < first["s"].value < first["s"].high
    assert paired_aiq_differences(points, families, "r", cost_range=(0.5, 4.0), resamples=200, seed=8)["s"] != first["s"]


def test_agree_returns_the_agreed_cheap_answer_and_escalates_on_disagreement(tmp_path) -> None:
    """Two cheap models that agree are answered by one of them; a disagreement calls the dear model; costs add up."""
    rows = []
    for i in range(200):
        same = i % 2 == 0
        rows.append(_row("mc", f"q{i}", "cheap_a", "A", 0.001, 1.0 if same else 0.0))
        rows.append(_row("mc", f"q{i}", "cheap_b", "A" if same else "B", 0.0012, 1.0 if same else 0.0))
        rows.append(_row("mc", f"q{i}", "dear", "A" if same else "C", 0.01, 1.0))
    table = _write(rows, tmp_path / "outcomes.jsonl")
    _fit(table, "agree", tmp_path / "agree")
    _, samples = _bench(tmp_path / "outcomes.jsonl", [f"learned:{tmp_path / 'agree'}:10"], tmp_path / "bench")
    costs = table.pivot("cost_usd")
    assert len(samples) > 40
    for s in samples:
        i = int(s["query_id"][1:])
        if i % 2 == 0:
            assert s["models"] == ["cheap_a", "cheap_b"] and s["answer"] == "A" and s["score"] == 1.0
        else:
            assert s["models"] == ["cheap_a", "cheap_b", "dear"] and s["answer"] == "C" and s["score"] == 1.0
        assert s["cost_usd"] == pytest.approx(sum(costs.at[s["query_id"], m] for m in s["models"]), abs=1e-12)
        assert s["details"]["decisions"][0].startswith("agree: call cheap_a and cheap_b")


def test_verify_escalates_less_as_lambda_grows_and_counts_every_call(verify_data, tmp_path) -> None:
    """Cost never rises with lambda; in the middle the verifier escalates exactly the hedged answers."""
    lams = (0.5, 5, 40, 1000)
    policies = [f"learned:{verify_data / 'router'}:{lam}" for lam in lams]
    result, samples = _bench(verify_data / "outcomes.jsonl", policies, tmp_path / "bench")
    rows = result.summary.set_index("policy")
    cost = [rows.at[p, "cost_per_query_usd"] for p in policies]
    assert cost[0] >= cost[1] >= cost[2] > cost[3]
    assert rows.at[policies[0], "accuracy"] == rows.at[policies[2], "accuracy"] == 1.0
    table = load_outcomes(verify_data / "outcomes.jsonl")
    costs = table.pivot("cost_usd")
    middle = [s for s in samples if s["policy"] == policies[2]]
    for s in middle:
        hard = int(s["query_id"][1:]) % 2 == 1
        assert s["models"] == (["cheap", "dear"] if hard else ["cheap"])
        assert s["cost_usd"] == pytest.approx(sum(costs.at[s["query_id"], m] for m in s["models"]), abs=1e-12)
        assert any("escalate to dear" in d for d in s["details"]["decisions"]) == hard


def test_served_verify_router_makes_the_bench_decisions_over_http(verify_data, tmp_path, monkeypatch) -> None:
    """`xrouter serve --policy learned:DIR:40` on the replay provider calls, selects and charges as bench does."""
    from xrouter.eval import embed
    from xrouter.serve.app import create_app
    from xrouter.serve.background import BackgroundServer
    from xrouter.serve.state import ServeSettings

    monkeypatch.setattr(embed, "Embedder", lambda *a, **k: HashEmbedder())
    path = verify_data / "outcomes.jsonl"
    spec = f"learned:{verify_data / 'router'}:40"
    _, local = _bench(path, [spec], tmp_path / "local")
    settings = ServeSettings(models=("cheap", "dear"), policy=spec, replay_data=(str(path),), ledger_path=None,
                             max_turns=4)  # fmt: skip
    with BackgroundServer(create_app(settings)) as server:
        _, served = _bench(path, [f"router:{server.url}"], tmp_path / "served", concurrency=4)
    by_id = {s["query_id"]: s for s in served}
    assert len(by_id) == len(local) > 40
    for s in local:
        other = by_id[s["query_id"]]
        assert other["error"] is None and other["models"] == s["models"] and other["answer"] == s["answer"]
        assert other["score"] == s["score"] and other["cost_usd"] == pytest.approx(s["cost_usd"], abs=1e-12)


def test_verify_router_with_other_answer_features_is_refused(verify_data) -> None:
    """A verifier fitted on a different feature list is a data error asking for a refit, never a shape crash."""
    from xrouter.errors import DataError
    from xrouter.eval.cascade import CascadePlan
    from xrouter.eval.learned import LearnedRouter

    router = LearnedRouter.load(verify_data / "router")
    CascadePlan(router)  # fitted by this version: accepted
    del router.spec.cascade["features"]  # as written before arithmetic features existed
    with pytest.raises(DataError, match="fit it again with xrouter fit-router --kind verify"):
        CascadePlan(router)


def test_verify_calls_the_cheap_model_first_where_its_cascade_beats_the_table(verify_data, tmp_path) -> None:
    """At lambda 25 the table calls the dear model alone; verify's fitted plan calls the cheap one first and
    escalates only the hedged answers: the same accuracy for about half the cost."""
    router = verify_data / "router"
    result, samples = _bench(verify_data / "outcomes.jsonl", [f"learned:{router}:25"], tmp_path / "bench")
    costs = load_outcomes(verify_data / "outcomes.jsonl").pivot("cost_usd")
    for s in samples:
        hard = int(s["query_id"][1:]) % 2 == 1
        assert s["models"] == (["cheap", "dear"] if hard else ["cheap"]) and s["score"] == 1.0
        assert "the table's choice is dear" in s["details"]["decisions"][0]
    row = result.summary.set_index("policy").loc[f"learned:{router}:25"]
    assert row["cost_per_query_usd"] < 0.6 * costs["dear"].mean()
