"""What one preprocessing run is given (`PreprocessConfig`) and what each of its input files produced (`FileReport`).

Apart from `xrouter.data.preprocess`, which runs them, so that the run's record (`xrouter.data.generation`)
reads them without importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xrouter.data.lambdas import LambdaSpec
from xrouter.data.sampling import SamplingConfig
from xrouter.engine.prompts import DEFAULT_MAX_SYSTEM_PROMPT_LENGTH, Mode
from xrouter.errors import UsageError


@dataclass(frozen=True)
class PreprocessConfig:
    """Everything one preprocessing run needs besides the catalog (validated at construction)."""

    input_dir: Path
    output_dir: Path
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    mode: Mode = "agent"
    max_system_prompt_length: int = DEFAULT_MAX_SYSTEM_PROMPT_LENGTH
    workers: int = 1
    batch_size: int = 2000
    overwrite: bool = False
    cost_lambda: LambdaSpec | None = None  # None or a fixed value: rows carry no λ (the trainer config's applies)

    def __post_init__(self) -> None:
        if self.mode not in ("agent", "simple"):
            raise UsageError(f"mode must be 'agent' or 'simple', got {self.mode!r}")
        if self.max_system_prompt_length < 0:
            raise UsageError("--max-system-prompt-length must be >= 0")
        if self.workers < 1 or self.batch_size < 1:
            raise UsageError("--workers and the batch size must be at least 1")


@dataclass
class FileReport:
    """What one input file produced."""

    input: str
    output: str
    input_rows: int
    output_rows: int
    set_types: dict[str, int]
    pool_sizes: dict[int, int] = field(default_factory=dict)
    model_counts: dict[str, int] = field(default_factory=dict)
    cost_lambda: dict[str, float] = field(default_factory=dict)  # min, median, max of the rows' λ (if per row)
