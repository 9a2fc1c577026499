"""Calling target models: async LiteLLM client, retries, ledger, response cache and replay."""
