"""Calling target models: async client, retries, cost ledger, response cache, replay and record mode.

* `xrouter.llm.client.LLMClient` - the `ModelCaller` every `call_<model>` goes through.
* `xrouter.llm.ledger.Ledger` - append-only JSONL record of every call.
* `xrouter.llm.cache.ResponseCache` - SQLite (WAL) response cache shared by processes.
* `xrouter.llm.replay` - answers from recorded outcomes (in-process caller and HTTP server).
* `xrouter.llm.record.Recorder` - turns live calls into a replayable outcome table.

Nothing is imported here so that `import xrouter.llm` stays cheap; import the submodules.
"""
