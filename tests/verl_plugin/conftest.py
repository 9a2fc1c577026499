"""Fixtures of the verl plugin tests: a tiny offline policy model, recorded outcomes and a replay server.

The only stand-in is the policy: `xrouter.verl_plugin.scripted.ScriptedPolicyServer` plays verl's LLM
server (token ids in, token ids out) from a per-prompt script. Target-model calls go through LiteLLM over HTTP to the replay server
on 127.0.0.1, answering from a small outcome table written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xrouter.verl_plugin.scripted import build_tiny_policy_model

# Recorded outcomes: query -> model -> (answer, cost). Model ids are replay-only names.
QUERIES = {
    "q-add": ("What is 2+3?", "5"),
    "q-cap": ("What is the capital of France?", "Paris"),
    "q-sq": ("What is 7*7?", "49"),
    "q-sub": ("What is 9-4?", "5"),
}
MODELS = {"cheap-a": 0.0002, "strong-c": 0.004}
WRONG = {("q-cap", "cheap-a"): "Lyon"}


def write_outcomes(path: Path) -> Path:
    """A small xrouter outcome table (JSONL) for the replay server."""
    lines = []
    for qid, (question, answer) in QUERIES.items():
        for model, cost in MODELS.items():
            text = WRONG.get((qid, model), answer)
            lines.append(
                {
                    "dataset": "toy",
                    "query_id": qid,
                    "query_text": question,
                    "model": model,
                    "response": f"The answer is {text}",
                    "cost_usd": cost,
                    "score": float(text == answer),
                    "input_tokens": 20,
                    "output_tokens": 5,
                }
            )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def write_replay_catalog(path: Path, api_base: str) -> Path:
    """Catalog YAML for the replay models (flat prices; the replay charges the recorded cost)."""
    entries = []
    for model in MODELS:
        entries.append(
            f"  - id: {model}\n    litellm_model: openai/{model}\n    provider: replay\n    tier: budget\n"
            f"    input_usd_per_mtok: 1.0\n    output_usd_per_mtok: 2.0\n    context_window: 32000\n"
            f"    max_output_tokens: 1024\n    api_base: {api_base}\n    description: Replayed model {model}.\n"
        )
    path.write_text('version: "test-replay"\nmodels:\n' + "".join(entries))
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with the tiny tokenizer (hermes chat template) and a random 2-layer Llama."""
    return build_tiny_policy_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def outcomes_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recorded outcomes the replay server answers from."""
    return write_outcomes(tmp_path_factory.mktemp("outcomes") / "toy_outcomes.jsonl")


@pytest.fixture(scope="session")
def replay_server(outcomes_file: Path):
    """The replay provider (real HTTP on 127.0.0.1) serving `outcomes_file`."""
    from xrouter.data.outcomes import load_outcomes
    from xrouter.llm.replay import ReplayStore, create_replay_app
    from xrouter.serve.background import BackgroundServer

    server = BackgroundServer(create_replay_app(ReplayStore(load_outcomes(outcomes_file)))).start()
    yield f"{server.url}/v1"
    server.stop()


@pytest.fixture(scope="session")
def tool_config(tmp_path_factory: pytest.TempPathFactory, replay_server: str) -> Path:
    """verl tool YAML written by `xrouter tools --format verl`, with its tools pointed at the replay server."""
    import yaml

    from xrouter.cli.main import main

    folder = tmp_path_factory.mktemp("tools")
    catalog = write_replay_catalog(folder / "replay_catalog.yaml", replay_server)
    out = folder / "tools.yaml"
    code = main(
        ["tools", "--models", ",".join(MODELS), "--format", "verl", "--catalog", str(catalog), "--out", str(out)]
    )
    assert code == 0
    data = yaml.safe_load(out.read_text())
    for entry in data["tools"]:
        entry["config"].update({"backend": "replay", "api_base": replay_server, "catalog": str(catalog)})
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out
