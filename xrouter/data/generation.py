"""`generation_config.yaml`: what a preprocessing run used and produced, written beside its outputs."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from xrouter import __version__
from xrouter.catalog import Catalog
from xrouter.data.run_config import FileReport, PreprocessConfig
from xrouter.data.sampling import SAMPLING_TIERS
from xrouter.engine.prompts import router_system_prompt

GENERATION_CONFIG = "generation_config.yaml"


def generation_record(
    config: PreprocessConfig, catalog: Catalog, reports: list[FileReport], arguments: dict[str, Any]
) -> dict[str, Any]:
    """Contents of `generation_config.yaml`: arguments, seed, catalog, prompt and pool statistics."""
    sampling = config.sampling
    prompt = router_system_prompt(config.mode)
    return {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "xrouter_version": __version__,
        "input_dir": str(config.input_dir),
        "output_dir": str(config.output_dir),
        "seed": sampling.seed,
        "mode": config.mode,
        "num_repetitions": sampling.num_repetitions,
        "max_num_samples": sampling.max_num_samples,
        "tier_ranges": {t: list(sampling.ranges[t]) for t in SAMPLING_TIERS},
        "use_fixed_sets": sampling.use_fixed_sets,
        "fixed_set_percentages": list(sampling.fixed_set_percentages),
        "use_fixed_set_only": sampling.use_fixed_set_only,
        "fixed_set_choice": sampling.fixed_set_choice,
        "max_system_prompt_length": config.max_system_prompt_length,
        "cost_lambda": config.cost_lambda.record() if config.cost_lambda else {"spec": None, "per_row": False},
        "catalog": {
            "version": catalog.version,
            "sources": list(catalog.sources),
            "tier_sizes": {t: len(catalog.by_tier(t)) for t in SAMPLING_TIERS},
            "tier_models": {t: [m.id for m in catalog.by_tier(t)] for t in SAMPLING_TIERS},
            "fixed_sets": {k: list(v) for k, v in catalog.fixed_sets.items()},
        },
        "system_prompt": prompt,
        "system_prompt_chars": len(prompt),
        "files": [asdict(r) for r in reports],
        "arguments": arguments,
    }
