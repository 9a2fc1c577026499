"""One router, one curve: a learned router served once answers at any λ, and `bench --lambda` sweeps it.

Run: .venv/bin/python -m pytest -q tests/eval/test_sweep_on_cpu.py
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.eval.test_routers_on_cpu import HashEmbedder, _fit, _row, _write
from xrouter.errors import UsageError
from xrouter.eval.bench import BenchConfig, run_bench
from xrouter.eval.summary import policy_family
from xrouter.eval.sweep import parse_lambdas, split_swept, swept_name

CHEAP, DEAR = ("cheap", 0.0001), ("dear", 0.01)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """One task: the cheap model is right on 60% of queries, the dear one on all but one in twenty."""
    rows = []
    for i in range(100):
        rows.append(_row("qa", f"q{i}", CHEAP[0], f"cheap answer {i}", CHEAP[1], float(i % 5 < 3)))
        rows.append(_row("qa", f"q{i}", DEAR[0], f"dear answer {i}", DEAR[1], float(i % 20 != 0)))
    folder = tmp_path_factory.mktemp("sweep")
    _fit(_write(rows, folder / "outcomes.jsonl"), "table", folder / "table")
    return folder


@pytest.fixture
def served(outcomes, monkeypatch):
    """`xrouter serve --policy learned:DIR` (no λ of its own) on the replay provider, over real HTTP."""
    from xrouter.eval import embed
    from xrouter.serve.app import create_app
    from xrouter.serve.background import BackgroundServer
    from xrouter.serve.state import ServeSettings

    monkeypatch.setattr(embed, "Embedder", lambda *a, **k: HashEmbedder())
    settings = ServeSettings(models=(CHEAP[0], DEAR[0]), policy=f"learned:{outcomes / 'table'}",
                             replay_data=(str(outcomes / "outcomes.jsonl"),), ledger_path=None)  # fmt: skip
    with BackgroundServer(create_app(settings)) as server:
        yield server.url


def _ask(url: str, query_id: str, lam: float | None) -> dict:
    body = {"model": "router", "messages": [{"role": "user", "content": f"qa question {query_id}: pick A-D"}],
            "metadata": {"query_id": query_id}}  # fmt: skip
    if lam is not None:
        body["xrouter"] = {"cost_lambda": lam}
    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_learned_router_served_once_picks_dear_at_lambda_0_and_cheap_at_lambda_100(served):
    """The same server, the same query: λ = 0 buys the strong model, λ = 100 the cheap one (recorded answers)."""
    for query_id in ("q1", "q7"):
        at_0, at_100 = _ask(served, query_id, 0), _ask(served, query_id, 100)
        assert at_0["router_metadata"]["model_used"] == DEAR[0] and at_0["router_metadata"]["cost_lambda"] == 0
        assert at_100["router_metadata"]["model_used"] == CHEAP[0] and at_100["router_metadata"]["cost_lambda"] == 100
        assert at_0["choices"][0]["message"]["content"] == f"dear answer {query_id[1:]}"
        assert at_100["router_metadata"]["total_cost"] == pytest.approx(CHEAP[1])
    # without a request λ the router uses its own (fit-router's --lambda, 0 here)
    assert _ask(served, "q1", None)["router_metadata"]["model_used"] == DEAR[0]


def _bench(outcomes, policies, out, lambdas, **kw):
    config = BenchConfig([str(outcomes / "outcomes.jsonl")], policies, out_dir=str(out), split="eval",
                         lambdas=lambdas, bootstrap=0, **kw)  # fmt: skip
    result = run_bench(config, embedder=HashEmbedder())
    return result, [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


def test_bench_lambda_sweeps_one_server_into_one_curve(outcomes, served, tmp_path):
    """router:URL --lambda 0,100: two points from one server, one AIQ family, a plotted line; learned:DIR agrees."""
    router = f"router:{served}"
    learned = f"learned:{outcomes / 'table'}"
    result, samples = _bench(outcomes, [router, learned, "single:*"], tmp_path / "bench", [0.0, 100.0])
    names = list(dict.fromkeys(s["policy"] for s in samples))
    assert names == [swept_name(router, 0), swept_name(router, 100), swept_name(learned, 0), swept_name(learned, 100),
                     "single:cheap", "single:dear"]  # fmt: skip
    by_policy = {n: [s for s in samples if s["policy"] == n] for n in names}
    assert all(s["models"] == [DEAR[0]] for s in by_policy[swept_name(router, 0)])
    assert all(s["models"] == [CHEAP[0]] for s in by_policy[swept_name(router, 100)])
    for lam in (0, 100):  # served and in-process: the same decisions, scores and costs
        remote = {s["query_id"]: s for s in by_policy[swept_name(router, lam)]}
        for s in by_policy[swept_name(learned, lam)]:
            other = remote[s["query_id"]]
            assert (other["models"], other["score"], other["error"]) == (s["models"], s["score"], None)
            assert other["cost_usd"] == pytest.approx(s["cost_usd"], abs=1e-12)
            assert s["details"]["cost_lambda"] == lam
    summary = result.summary.set_index("policy")
    assert summary.loc[swept_name(router, 0), "accuracy"] > summary.loc[swept_name(router, 100), "accuracy"]
    assert summary.loc[swept_name(router, 100), "cost_per_1k_usd"] == pytest.approx(1000 * CHEAP[1])
    families = set(result.aiq["family"])
    assert {router, learned, "single"} <= families  # each swept router is one curve with an AIQ
    assert result.frontier is not None and result.frontier.stat().st_size > 0


def test_lambda_needs_a_router_policy_and_a_learned_router_without_its_own_lambda(outcomes, tmp_path):
    """--lambda with only single:* is refused, and so is learned:DIR:λ (it fixes its λ)."""
    with pytest.raises(UsageError, match="sweeps router:URL, learned:DIR and hf:PATH"):
        _bench(outcomes, ["single:*"], tmp_path / "a", [1.0])
    with pytest.raises(UsageError, match="fixes its λ"):
        _bench(outcomes, [f"learned:{outcomes / 'table'}:3"], tmp_path / "b", [1.0])
    with pytest.raises(UsageError, match="between 0 and"):
        parse_lambdas("1,-2")
    with pytest.raises(UsageError, match="'x' is not a number"):
        parse_lambdas("1,x")
    assert parse_lambdas("0.3, 1,1,30") == [0.3, 1.0, 30.0]


def test_swept_names_keep_their_family_and_label():
    """`POLICY@lambda=λ` parses back; learned and router points fall into the family of their base policy."""
    name = swept_name("learned:/runs/knn", 0.3)
    assert name == "learned:/runs/knn@lambda=0.3" and split_swept(name) == ("learned:/runs/knn", 0.3)
    assert policy_family(name) == "learned:/runs/knn" == policy_family("learned:/runs/knn:30")
    assert policy_family(swept_name("router:http://127.0.0.1:8000", 3)) == "router:http://127.0.0.1:8000"
    from xrouter.eval.plots import short_label

    assert short_label(name) == "learned:knn λ=0.3"


def test_cli_lambda_flag_errors_exit_2(outcomes, tmp_path, capsys):
    """`xrouter bench --lambda abc` exits 2 with a one-line reason."""
    from xrouter.cli.main import main

    code = main(["bench", "--dataset", str(outcomes / "outcomes.jsonl"), "--policy", "single:*", "--lambda", "abc",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and "--lambda 'abc'" in capsys.readouterr().err
