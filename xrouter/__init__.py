"""xrouter: a cost-aware LLM router trained with RL (DAPO) on verl.

Subpackages: `catalog` (models, prices, tool schemas), `llm` (call layer, cache, replay),
`engine` (the router episode), `serve` (OpenAI-compatible API), `reward` (scorers and the
cost-aware reward), `data` (preprocessing), `eval` (benchmarks), `verl_plugin` (verl hooks;
the only part that imports verl), `cli` (the `xrouter` command).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
