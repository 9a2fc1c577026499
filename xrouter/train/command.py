"""The verl commands behind `xrouter train`: one plan (stage, preset, files, sizes) -> argv, environment, merge.

* `--stage rl`: `python -m verl.trainer.main_ppo` on `router_dapo_cpu` or `router_dapo_gpu` (both composed
  on `router_dapo`, the algorithm, reward and episode rules);
* `--stage sft`: verl's own SFT trainer under torchrun on `router_sft_cpu` or `router_sft`, reading
  `xrouter sft-data` traces;
* afterwards verl's model merger turns the last checkpoint into a Hugging Face folder.

Every value the plan sets is an ordinary Hydra override, printed with the command, so a run can be
repeated or changed by hand. Extra overrides given after `--` come last and win.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from xrouter.config import CONFIG_DIR
from xrouter.errors import UsageError

Stage = Literal["sft", "rl"]
Preset = Literal["cpu", "gpu"]
CONFIG_NAMES: dict[tuple[str, str], str] = {
    ("rl", "cpu"): "router_dapo_cpu",
    ("rl", "gpu"): "router_dapo_gpu",
    ("sft", "cpu"): "router_sft_cpu",
    ("sft", "gpu"): "router_sft",
}
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "WANDB_MODE": "offline",
}


@dataclass(frozen=True)
class TrainPlan:
    """One `xrouter train` run; None leaves a setting to the preset config."""

    stage: Stage
    preset: Preset
    model: Path
    train_files: tuple[Path, ...]
    out: Path
    val_files: tuple[Path, ...] = ()
    tools: Path | None = None
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    rollouts: int | None = None
    lr: float | None = None
    cost_lambda: float | None = None
    gpus: int = 1
    overrides: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if (self.stage, self.preset) not in CONFIG_NAMES:
            raise UsageError(f"unknown stage/preset {self.stage}/{self.preset}; use --stage sft|rl --preset cpu|gpu")
        for name in ("steps", "epochs", "batch_size", "rollouts", "gpus"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1 (got {value})")
        if self.stage == "rl" and self.tools is None:
            raise UsageError("--stage rl needs --tools (the verl tool YAML) or --replay (outcome tables)")

    @property
    def config_name(self) -> str:
        """The Hydra config of this stage and preset (in xrouter/config)."""
        return CONFIG_NAMES[(self.stage, self.preset)]

    @property
    def checkpoints(self) -> Path:
        """Where verl writes its checkpoints."""
        return self.out / "checkpoints"

    @property
    def merged(self) -> Path:
        """The Hugging Face folder of the last checkpoint."""
        return self.out / "model"

    @property
    def metrics(self) -> Path:
        """verl's per-step metrics (its `file` logger)."""
        return self.out / "metrics.jsonl"


def _files(paths: Sequence[Path]) -> str:
    return "[" + ",".join(f"'{p}'" for p in paths) + "]"


def overrides(plan: TrainPlan) -> list[str]:
    """The Hydra overrides the plan sets (the preset config holds everything else)."""
    common = [f"trainer.default_local_dir={plan.checkpoints}", "trainer.logger=[console,file]"]
    if plan.stage == "sft":
        out = [f"data.train_files={_files(plan.train_files)}", f"model.path={plan.model}", *common]
        if plan.val_files:
            out.append(f"data.val_files={_files(plan.val_files)}")
        if plan.batch_size:
            out += [f"data.train_batch_size={plan.batch_size}", f"data.micro_batch_size_per_gpu={plan.batch_size}"]
        if plan.lr is not None:
            out.append(f"optim.lr={plan.lr}")
    else:
        val = plan.val_files or plan.train_files
        out = [
            f"data.train_files={_files(plan.train_files)}",
            f"data.val_files={_files(val)}",
            f"actor_rollout_ref.model.path={plan.model}",
            f"actor_rollout_ref.rollout.multi_turn.tool_config_path={plan.tools}",
            *common,
        ]
        if not plan.val_files:
            out.append("trainer.test_freq=-1")
        if plan.batch_size:
            out += [
                f"data.train_batch_size={plan.batch_size}",
                f"actor_rollout_ref.actor.ppo_mini_batch_size={plan.batch_size}",
            ]
        if plan.rollouts:
            out.append(f"actor_rollout_ref.rollout.n={plan.rollouts}")
        if plan.lr is not None:
            out.append(f"actor_rollout_ref.actor.optim.lr={plan.lr}")
        if plan.cost_lambda is not None:
            out.append(f"xrouter.cost_lambda={plan.cost_lambda}")
        if plan.steps:  # verl saves on multiples of save_freq and on the last step
            out.append(f"trainer.save_freq={plan.steps}")
    if plan.steps:
        out.append(f"trainer.total_training_steps={plan.steps}")
    if plan.epochs:
        out.append(f"trainer.total_epochs={plan.epochs}")
    if plan.preset == "gpu":
        out.append(f"trainer.n_gpus_per_node={plan.gpus}")
    return out + list(plan.overrides)


def verl_argv(plan: TrainPlan, python: str = sys.executable, cfg_job: bool = False) -> list[str]:
    """The exact command: main_ppo for RL, torchrun + verl's SFT trainer for SFT."""
    config = ["--config-dir", str(CONFIG_DIR), "--config-name", plan.config_name]
    tail = ["--cfg", "job", "--resolve"] if cfg_job else []
    if plan.stage == "rl":
        return [python, "-m", "verl.trainer.main_ppo", *config, *overrides(plan), *tail]
    ranks = 1 if plan.preset == "cpu" else plan.gpus
    launcher = [python, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", f"--nproc_per_node={ranks}"]
    if cfg_job:  # composing the config needs no process group
        launcher = [python]
    return [*launcher, "-m", "verl.trainer.sft_trainer", *config, *overrides(plan), *tail]


def verl_env(plan: TrainPlan, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of the verl processes: offline switches, the CPU platform, the metrics file."""
    env = dict(base if base is not None else os.environ)
    for key, value in OFFLINE_ENV.items():
        env.setdefault(key, value)
    env["VERL_FILE_LOGGER_PATH"] = str(plan.metrics)
    if plan.preset == "cpu":
        env["VERL_PLATFORM"] = "cpu"
        env.setdefault("XROUTER_CPU_THREADS", str(os.cpu_count() or 1))
    return env


def shell_line(argv: Sequence[str], env: Mapping[str, str] | None = None, keys: Sequence[str] = ()) -> str:
    """The command as one copy-pasteable shell line (with the environment variables in `keys`)."""
    prefix = [f"{k}={shlex.quote(env[k])}" for k in keys if env and k in env]
    return " ".join(prefix + [shlex.quote(a) for a in argv])


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest `global_step_N` folder verl wrote (the actor's subfolder for RL checkpoints)."""
    steps = sorted(
        (p for p in folder.glob("global_step_*") if p.name.split("_")[-1].isdigit()),
        key=lambda p: int(p.name.split("_")[-1]),
    )
    if not steps:
        return None
    last = steps[-1]
    return last / "actor" if (last / "actor").is_dir() else last


def merge_argv(checkpoint: Path, target: Path, python: str = sys.executable) -> list[str]:
    """verl's model merger: an FSDP checkpoint folder -> a Hugging Face folder."""
    return [python, "-m", "verl.model_merger", "merge", "--backend", "fsdp", "--local_dir", str(checkpoint),
            "--target_dir", str(target)]  # fmt: skip
