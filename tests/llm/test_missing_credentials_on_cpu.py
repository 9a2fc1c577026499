"""A provider call without an API key is an `auth` failure, reported at once and never retried."""

from __future__ import annotations

import openai

from xrouter.catalog import load_catalog
from xrouter.llm.client import LLMClient
from xrouter.llm.errors import classify_exception
from xrouter.llm.retry import RetryConfig


def test_client_library_missing_key_errors_are_auth():
    """The OpenAI SDK's 'api_key must be set' error, alone or wrapped with a 500, classifies as auth."""
    inner = openai.OpenAIError("The api_key client option must be set either by passing api_key to the client")
    wrapper = RuntimeError("InternalServerError: OpenAIException - Missing credentials. Please pass an api_key")
    wrapper.status_code = 500  # what LiteLLM's wrapper carries
    wrapper.__cause__ = inner
    for exc in (inner, wrapper):
        error = classify_exception(exc)
        assert error.kind == "auth" and not error.retryable and "api_key" in error.message


async def test_litellm_call_without_key_fails_once_as_auth(monkeypatch):
    """A native OpenAI model through LiteLLM with no OPENAI_API_KEY: one attempt, kind auth, the key named."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = LLMClient(load_catalog(), retry=RetryConfig(max_attempts=4, base_delay_s=0.5), transport="litellm")
    result = await client.call("gpt-4.1-nano", [{"role": "user", "content": "2+2?"}], max_tokens=8)
    assert not result.success and result.error.kind == "auth"
    assert result.attempts == 1 and "OPENAI_API_KEY" in result.error.message
