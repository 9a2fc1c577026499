"""λ per request: `"xrouter": {"cost_lambda": λ}` reaches the router's prompt, is echoed, and bad values are 400s.

Run: .venv/bin/python -m pytest -q tests/serve/test_cost_lambda_on_cpu.py
"""

from __future__ import annotations

import httpx
import pytest

from tests.serve.conftest import API_KEY, MODELS, TOOL, make_settings
from xrouter.engine.prompts import prompt_cost_lambda, router_messages, router_system_prompt
from xrouter.errors import UsageError
from xrouter.serve.app import create_app
from xrouter.serve.background import BackgroundServer
from xrouter.serve.scripted_router import call_then_select

GPT4 = MODELS[0]


def post(url: str, body: dict, auth: dict) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=auth, timeout=60)


def ask(query: str, **extra) -> dict:
    return {"model": "router", "messages": [{"role": "user", "content": query}], **extra}


class Recorder:
    """A router script that answers directly and records the router chat it was sent."""

    def __init__(self) -> None:
        self.chats: list[list[dict]] = []

    def __call__(self, query: str, turn: int, messages: list[dict]) -> dict:
        self.chats.append(messages)
        return {"content": "done"}


def test_request_lambda_reaches_the_router_prompt_and_is_echoed(server_url, scripts, auth):
    """The scripted router receives the training prompt for that λ; router_metadata.cost_lambda says which λ."""
    recorder = Recorder()
    scripts.by_query["Route me at two budgets."] = recorder
    for lam in (0.5, 30):
        response = post(server_url, ask("Route me at two budgets.", xrouter={"cost_lambda": lam}), auth)
        assert response.status_code == 200, response.text
        assert response.json()["router_metadata"]["cost_lambda"] == lam
    plain = post(server_url, ask("Route me at two budgets."), auth).json()
    assert plain["router_metadata"]["cost_lambda"] is None
    user = [{"role": "user", "content": "Route me at two budgets."}]
    assert [prompt_cost_lambda(chat) for chat in recorder.chats] == [0.5, 30.0, None]
    assert recorder.chats[0][:2] == router_messages(user, "agent", cost_lambda=0.5)  # the one prompt function
    assert recorder.chats[2][0]["content"] == router_system_prompt("agent")  # no λ: the pre-λ prompt


def test_lambda_is_sent_by_the_openai_sdk_through_extra_body(server_url, scripts, queries, recorded):
    """`extra_body={"xrouter": {"cost_lambda": λ}}` from the stock SDK; a real call and select at that λ."""
    from openai import OpenAI

    query = queries[11]
    scripts.by_query[query] = call_then_select(TOOL[GPT4])
    client = OpenAI(base_url=f"{server_url}/v1", api_key=API_KEY)
    completion = client.chat.completions.create(
        model="router", messages=[{"role": "user", "content": query}], extra_body={"xrouter": {"cost_lambda": 3}}
    )
    meta = completion.model_extra["router_metadata"]
    assert meta["cost_lambda"] == 3 and meta["model_used"] == GPT4
    assert completion.choices[0].message.content == recorded[(query, GPT4)][0]


@pytest.mark.parametrize(
    ("field", "param", "fragment"),
    [
        ({"cost_lambda": "high"}, "xrouter.cost_lambda", "'xrouter.cost_lambda' must be a number"),
        ({"cost_lambda": -1}, "xrouter.cost_lambda", "between 0 and 100000"),
        ({"cost_lambda": 1e7}, "xrouter.cost_lambda", "between 0 and 100000"),
        ({"cost_lambda": True}, "xrouter.cost_lambda", "must be a number"),
        ({"cost_lambda": 10**400}, "xrouter.cost_lambda", "finite"),
        ({"lambda": 3}, "xrouter.lambda", "unknown field 'xrouter.lambda'"),
        (3, "xrouter", "'xrouter' must be an object"),
    ],
)
def test_a_bad_lambda_is_a_400_naming_the_field_and_the_server_keeps_serving(server_url, scripts, auth, field, param,
                                                                             fragment):  # fmt: skip
    """Out-of-range, non-numeric or misspelt λ: an OpenAI-style 400; the next request is answered."""
    scripts.by_query["After a bad lambda."] = [{"content": "still here"}]
    response = post(server_url, ask("After a bad lambda.", xrouter=field), auth)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and fragment in error["message"] and error["type"] == "invalid_request_error"
    after = post(server_url, ask("After a bad lambda.", xrouter={"cost_lambda": 1}), auth)
    assert after.status_code == 200 and after.json()["choices"][0]["message"]["content"] == "still here"


def test_the_server_flag_is_the_default_and_a_request_overrides_it(router_url, replay_url, scripts, auth, tmp_path):
    """`--cost-lambda 7`: requests without λ are routed at 7 (health says so), a request's own λ wins."""
    recorder = Recorder()
    scripts.by_query["Default lambda please."] = recorder
    settings = make_settings(router_url, replay_url, tmp_path / "ledger.jsonl", cost_lambda=7.0)
    with BackgroundServer(create_app(settings)) as server:
        assert httpx.get(f"{server.url}/health").json()["cost_lambda"] == 7.0
        first = post(server.url, ask("Default lambda please."), auth).json()["router_metadata"]
        second = post(server.url, ask("Default lambda please.", xrouter={"cost_lambda": 0}), auth).json()
    assert first["cost_lambda"] == 7.0 and second["router_metadata"]["cost_lambda"] == 0
    assert [prompt_cost_lambda(chat) for chat in recorder.chats] == [7.0, 0.0]
    ledger = (tmp_path / "ledger.jsonl").read_text().splitlines()
    assert '"cost_lambda": 7.0' in ledger[0] and '"cost_lambda": 0.0' in ledger[1]


def test_an_out_of_range_server_default_names_the_flag(router_url, replay_url, tmp_path):
    """A bad --cost-lambda fails at start-up with the flag's name (exit 2 on the command line)."""
    with pytest.raises(UsageError, match="--cost-lambda must be a number between 0 and 100000"):
        make_settings(router_url, replay_url, tmp_path / "ledger.jsonl", cost_lambda=-2.0)
