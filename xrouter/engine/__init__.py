"""The router episode: prompts, rules and the loop shared by serving, benchmarks and training."""
