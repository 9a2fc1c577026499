"""Settings of one benchmark run (`xrouter bench`), validated once at construction."""

from __future__ import annotations

from dataclasses import dataclass, field

from xrouter.engine.prompts import MAX_COST_LAMBDA
from xrouter.errors import UsageError

BACKENDS = ("replay", "live", "cache")


@dataclass
class BenchConfig:
    """Everything a benchmark run needs; validated at construction."""

    datasets: list[str]
    policies: list[str]
    out_dir: str = "outputs/bench"
    backend: str = "replay"
    replay_url: str | None = None
    catalog: list[str] | None = None
    models: list[str] = field(default_factory=list)
    cache_path: str | None = None
    concurrency: int = 8
    limit: int | None = None
    split: str = "all"
    holdout: float = 0.3
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    timeout_s: float | None = None
    max_tokens: int | None = None
    router_api_key: str | None = None
    aiq_range: tuple[float, float] | None = None
    plot: bool = True
    bootstrap: int = 1000  # paired bootstrap resamples of AIQ differences against the table (0: none)
    lambdas: list[float] = field(default_factory=list)  # cost weights sent per request to router/learned/hf policies

    def __post_init__(self) -> None:
        if not self.datasets:
            raise UsageError("give at least one --dataset")
        if not self.policies:
            raise UsageError("give at least one --policy")
        if self.backend not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)} (got {self.backend!r})")
        if self.concurrency < 1:
            raise UsageError(f"--concurrency must be >= 1 (got {self.concurrency})")
        if self.resume and self.overwrite:
            raise UsageError("--resume keeps the earlier run and --overwrite replaces it: give one of them")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be >= 1 (got {self.limit})")
        if self.backend == "cache" and not self.cache_path:
            raise UsageError("--backend cache needs --cache PATH (a response cache database)")
        if self.bootstrap < 0:
            raise UsageError(f"--bootstrap must be >= 0 (got {self.bootstrap})")
        for lam in self.lambdas:
            if isinstance(lam, bool) or not isinstance(lam, int | float) or not 0 <= lam <= MAX_COST_LAMBDA:
                raise UsageError(f"--lambda values must be numbers from 0 to {MAX_COST_LAMBDA:g} (got {lam!r})")
        if self.replay_url and self.backend != "replay":
            raise UsageError("--replay-url only applies to --backend replay")
