"""Hydra configs shipped with xrouter, for verl's trainers.

* `router_dapo.yaml` - DAPO training of the router (composed on verl's `ppo_trainer`);
* `router_dapo_cpu.yaml` - the same plus the settings a machine without a GPU needs.

`python -m verl.trainer.main_ppo --config-dir <this folder> --config-name router_dapo` finds verl's own
configs by itself; `compose()` below does the same from Python (tests, dry runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parent
VERL_CONFIGS = "pkg://verl.trainer.config"


def compose(name: str = "router_dapo", overrides: Sequence[str] = ()) -> Any:
    """The trainer config `name` composed as main_ppo would see it (hydra; verl's configs on the search path)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return hydra_compose(config_name=name, overrides=[f"hydra.searchpath=[{VERL_CONFIGS}]", *overrides])
