"""HTTP serving: the OpenAI-compatible router API and helpers to run ASGI apps."""
