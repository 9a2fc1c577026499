"""Running a `TrainPlan`: the replay provider for the tools, the verl process with a log, the merge.

`replay_tools` starts the replay provider on 127.0.0.1 (in this process, so it lives in the same network
namespace as Ray) and writes a tool YAML whose every tool answers from it: RL rollouts then cost nothing
and are deterministic. `run_verl` runs the command, copying its output to the console and to
`train.log`; `merge_last_checkpoint` turns verl's last checkpoint into a Hugging Face folder.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from xrouter.errors import DataError, XRouterError
from xrouter.io import atomic_write_text
from xrouter.train.command import TrainPlan, latest_checkpoint, merge_argv
from xrouter.train.models import CARD_NAME

logger = logging.getLogger(__name__)
STALL_MARK = "training stalled:"


class TrainingFailed(XRouterError):
    """The verl process exited with an error (its log says why)."""


def row_pools(files: Sequence[Path]) -> tuple[list[str], bool]:
    """Every model any training row may call, in first-seen order, and whether any row is in agent mode."""
    import pandas as pd

    models: dict[str, None] = {}
    agent = False
    for path in files:
        frame = pd.read_parquet(path, columns=["extra_info"])
        for extra in frame["extra_info"]:
            pool = extra.get("model_pool") if isinstance(extra, Mapping) else None
            if pool is None:
                raise DataError(f"{path}: rows have no extra_info.model_pool (make them with `xrouter preprocess`)")
            models.update(dict.fromkeys(str(m) for m in pool))
            agent = agent or extra.get("mode", "agent") == "agent"
    return list(models), agent


def replay_tools(
    outcomes: Sequence[str], out: Path, tools: Path | None, train_files: Sequence[Path]
) -> tuple[Any, Path]:
    """Start the replay provider; write `out/tools.yaml` pointed at it. Returns (server, tool YAML path)."""
    from xrouter.catalog import load_catalog, verl_tool_config
    from xrouter.cli.replay import load_recorded
    from xrouter.llm.replay import ReplayStore, create_replay_app
    from xrouter.llm.replay.catalog import catalog_yaml
    from xrouter.serve.background import BackgroundServer

    store = ReplayStore(load_recorded(list(outcomes), "--replay"))
    server = BackgroundServer(create_replay_app(store)).start()
    api_base = f"{server.url}/v1"
    catalog_path = out / "replay_catalog.yaml"
    atomic_write_text(catalog_path, catalog_yaml(store.catalog, api_base))
    if tools is not None:
        spec = yaml.safe_load(tools.read_text(encoding="utf-8"))
    else:
        models, agent = row_pools(train_files)
        spec = verl_tool_config(load_catalog(str(catalog_path), use_env=False), models, simple=not agent)
    for entry in spec.get("tools", []):
        entry.setdefault("config", {}).update({"backend": "replay", "api_base": api_base, "catalog": str(catalog_path)})
    path = out / "tools.yaml"
    atomic_write_text(path, yaml.safe_dump(spec, sort_keys=False, width=120))
    logger.info("replay provider for the tools on %s (%d recorded answers)", api_base, len(store))
    return server, path


def run_verl(argv: Sequence[str], env: Mapping[str, str], log_path: Path, quiet: bool = False) -> int:
    """Run verl, copying each output line to `log_path` (and to the console unless quiet); return its exit code."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            list(argv), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if not quiet:
                sys.stdout.write(line)
        return proc.wait()


def failure_reason(log_path: Path) -> str:
    """The one line that explains a failed run: the stall guard's message, else the last error line."""
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines() if log_path.exists() else []
    for line in reversed(lines):
        if STALL_MARK in line:
            return line[line.index(STALL_MARK) :].strip()
    errors = [ln.strip() for ln in lines if "Error" in ln and not ln.lstrip().startswith(("File ", "warnings."))]
    return errors[-1][:500] if errors else f"see {log_path}"


def router_card(plan: TrainPlan) -> dict[str, Any]:
    """What serving must know to prompt the checkpoint as it was trained: the mode, the tools, λ."""
    import json

    import pandas as pd

    if plan.stage == "rl":
        _, agent = row_pools(plan.train_files)
        spec = yaml.safe_load(plan.tools.read_text(encoding="utf-8")) if plan.tools else {}
        tools = [e["tool_schema"]["function"]["name"] for e in spec.get("tools", []) if "tool_schema" in e]
    else:
        frame = pd.read_parquet(plan.train_files[0], columns=["tools"])
        tools = [t["function"]["name"] for t in json.loads(frame["tools"].iloc[0])]
        agent = "select_response" in tools
    return {"mode": "agent" if agent else "simple", "tools": tools, "stage": plan.stage,
            "cost_lambda": plan.cost_lambda, "base_model": str(plan.model)}  # fmt: skip


def merge_last_checkpoint(plan: TrainPlan, env: Mapping[str, str]) -> Path:
    """Merge verl's newest checkpoint of `plan` into `plan.merged` (a Hugging Face folder with the router card)."""
    checkpoint = latest_checkpoint(plan.checkpoints)
    if checkpoint is None:
        raise TrainingFailed(f"no checkpoint under {plan.checkpoints}: nothing to merge")
    log = plan.out / "merge.log"
    code = run_verl(merge_argv(checkpoint, plan.merged), env, log, quiet=True)
    if code != 0:
        raise TrainingFailed(f"merging {checkpoint} failed: {failure_reason(log)}")
    import json

    atomic_write_text(plan.merged / CARD_NAME, json.dumps(router_card(plan), indent=2) + "\n")
    return plan.merged
