"""Secrets never leave: an upstream that echoes credentials back is redacted everywhere it could surface."""

from __future__ import annotations

import json
import logging

import pytest

from tests.faults.conftest import SECRET, error_of, meta_of
from xrouter.llm.redact import RedactingFilter, redact, register_secret


def _router_chats(upstream_app, marker: str) -> list[str]:
    """Every router request the upstream received for one request (found by its marker), as JSON text."""
    return [json.dumps(body) for role, body, _ in upstream_app.state.seen if role == "router" and marker in str(body)]


@pytest.mark.parametrize("model", ["fault-a", "fault-lite"])  # direct HTTP, LiteLLM
def test_provider_key_echoed_in_an_upstream_error_is_redacted_everywhere(served, model, caplog):
    """The key reaches the upstream, comes back in its error body, and appears in no answer, ledger, log or prompt."""
    caplog.set_level(logging.INFO)
    marker = f"leak-{model}"
    response = served.post(f"Leak check [[r1=call:{model} target=echo:400 key={marker}]]")
    meta = meta_of(response)
    call = meta["call_history"][0]
    assert call["executed"] and not call["success"] and call["error_kind"] == "bad_request"
    assert "REDACTED" in call["error"] and "rejected request with headers" in call["error"]
    assert served.upstream_app.state.seen[-2][2]["authorization"] == f"Bearer {SECRET}"  # the key was really sent
    chats = _router_chats(served.upstream_app, marker)
    assert len(chats) == 2 and "REDACTED" in chats[1]  # the router read the (redacted) error on turn 2
    for text in (response.text, served.ledger.read_text(), caplog.text, *chats):
        assert SECRET not in text
    served.assert_still_serving()


def test_router_key_echoed_by_the_router_endpoint_is_not_in_the_502(make_served):
    """A router endpoint repeating its bearer key in an error: the 502 names the failure, not the key."""
    router_key = "sk-router-secret-0987654321zyx"
    served = make_served(router_api_key=router_key)
    response = served.post("Router leak check [[r1=echo:500]]")
    error = error_of(response, 502, "router_upstream_error")
    assert "HTTP 500" in error["message"] and router_key not in response.text
    assert router_key not in served.ledger.read_text()


def test_redact_removes_keys_bearer_tokens_and_api_key_headers():
    """Known key values, Authorization/api-key headers and bearer-looking tokens are all replaced."""
    register_secret("plain-registered-value-42")
    text = (
        "authorization: Bearer abc.DEF_123-xyz; Authorization=Basic dXNlcjpwYXNz; api-key: key-in-header-99; "
        '{"x-api-key": "json-header-key-77"} token sk-proj-AAAABBBBCCCCDDDD1234 and plain-registered-value-42'
    )
    cleaned = redact(text)
    for secret in ("abc.DEF_123-xyz", "dXNlcjpwYXNz", "key-in-header-99", "json-header-key-77"):
        assert secret not in cleaned
    assert "sk-proj-AAAABBBBCCCCDDDD1234" not in cleaned and "plain-registered-value-42" not in cleaned
    assert cleaned.count("[REDACTED]") >= 6 and cleaned.startswith("authorization: Bearer [REDACTED]")
    assert redact("nothing secret here") == "nothing secret here"


def test_log_filter_redacts_messages_arguments_and_tracebacks():
    """A handler with the filter never writes a key, whether in the message, its arguments or an exception."""
    register_secret(SECRET)
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = ListHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.faults.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("key %s and Bearer %s", SECRET, "tok-abcdefgh12345678")
        try:
            raise RuntimeError(f"upstream said Authorization: Bearer {SECRET}")
        except RuntimeError:
            logger.exception("call failed")
    finally:
        logger.removeHandler(handler)
    assert len(lines) == 2 and "RuntimeError" in lines[1]
    assert all(SECRET not in line and "tok-abcdefgh12345678" not in line for line in lines)
