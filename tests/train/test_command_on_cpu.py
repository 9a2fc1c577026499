"""`xrouter train`: the verl command per stage and preset, its environment, usage errors, the dry run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from xrouter.cli.main import main
from xrouter.errors import UsageError
from xrouter.train.command import TrainPlan, latest_checkpoint, merge_argv, verl_argv, verl_env


def plan(stage: str, preset: str, tmp_path: Path, **kw) -> TrainPlan:
    tools = tmp_path / "tools.yaml" if stage == "rl" else None
    return TrainPlan(stage=stage, preset=preset, model=tmp_path / "m", train_files=(tmp_path / "a.parquet",),
                     out=tmp_path / "run", tools=tools, **kw)  # fmt: skip


def test_rl_runs_main_ppo_on_the_preset_config_with_every_setting_an_override(tmp_path: Path):
    """RL is stock main_ppo on router_dapo_cpu; sizes, λ and paths are Hydra overrides; saving on the last step."""
    argv = verl_argv(plan("rl", "cpu", tmp_path, steps=5, batch_size=4, rollouts=8, lr=1e-4, cost_lambda=50.0))
    assert argv[1:3] == ["-m", "verl.trainer.main_ppo"] and argv[argv.index("--config-name") + 1] == "router_dapo_cpu"
    for override in ("data.train_batch_size=4", "actor_rollout_ref.rollout.n=8", "xrouter.cost_lambda=50.0",
                     "trainer.total_training_steps=5", "trainer.save_freq=5", "trainer.test_freq=-1",
                     f"actor_rollout_ref.rollout.multi_turn.tool_config_path={tmp_path / 'tools.yaml'}",
                     "trainer.logger=[console,file]"):  # fmt: skip
        assert override in argv, override


def test_sft_runs_verls_sft_trainer_under_torchrun_and_gpu_presets_use_their_configs(tmp_path: Path):
    """SFT: torch.distributed.run + verl.trainer.sft_trainer; gpu presets name their configs and GPU count."""
    sft = verl_argv(plan("sft", "cpu", tmp_path, batch_size=8))
    assert sft[1:3] == ["-m", "torch.distributed.run"] and "verl.trainer.sft_trainer" in sft
    assert "--nproc_per_node=1" in sft and "router_sft_cpu" in sft and "data.micro_batch_size_per_gpu=8" in sft
    gpu = verl_argv(plan("sft", "gpu", tmp_path, gpus=8))
    assert "--nproc_per_node=8" in gpu and "router_sft" in gpu and "trainer.n_gpus_per_node=8" in gpu
    assert "router_dapo_gpu" in verl_argv(plan("rl", "gpu", tmp_path))


def test_extra_overrides_come_last_and_the_cpu_environment_selects_the_platform(tmp_path: Path):
    """Overrides after `--` win (they come last); the CPU preset sets VERL_PLATFORM=cpu and the metrics file."""
    p = plan("rl", "cpu", tmp_path, overrides=("trainer.save_freq=1",))
    assert verl_argv(p)[-1] == "trainer.save_freq=1"
    env = verl_env(p, {"PATH": "/bin"})
    assert env["VERL_PLATFORM"] == "cpu" and env["VERL_FILE_LOGGER_PATH"] == str(p.metrics)
    assert env["HF_HUB_OFFLINE"] == "1" and "VERL_PLATFORM" not in verl_env(plan("rl", "gpu", tmp_path), {})


def test_bad_plans_are_usage_errors(tmp_path: Path):
    """RL without tools and non-positive sizes are refused before anything runs."""
    with pytest.raises(UsageError, match="--tools"):
        TrainPlan(stage="rl", preset="cpu", model=tmp_path, train_files=(), out=tmp_path)
    with pytest.raises(UsageError, match="--steps must be at least 1"):
        plan("sft", "cpu", tmp_path, steps=0)


def test_latest_checkpoint_takes_the_highest_step_and_the_actor_folder(tmp_path: Path):
    """verl's global_step_N folders: the newest by number (not by name), the actor's part for RL."""
    for n in (2, 10):
        (tmp_path / f"global_step_{n}" / "actor").mkdir(parents=True)
    assert latest_checkpoint(tmp_path) == tmp_path / "global_step_10" / "actor"
    assert latest_checkpoint(tmp_path / "none") is None
    assert merge_argv(tmp_path, tmp_path / "out")[1:5] == ["-m", "verl.model_merger", "merge", "--backend"]


def test_cli_usage_errors_exit_2_with_one_line(tmp_path: Path, capsys):
    """A folder that is not a model, RL without tools or replay, a missing train file: exit 2, one line."""
    (tmp_path / "rows.parquet").write_text("x")
    base = [
        "train",
        "--model",
        str(tmp_path),
        "--train-files",
        str(tmp_path / "rows.parquet"),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*base, "--stage", "rl"]) == 2
    assert "not a Hugging Face model folder" in capsys.readouterr().err
    from xrouter.verl_plugin.scripted import build_tiny_policy_model

    model = build_tiny_policy_model(tmp_path / "tiny")
    base[2] = str(model)
    assert main([*base, "--stage", "rl"]) == 2
    assert "needs --tools FILE or --replay" in capsys.readouterr().err
    assert main([*base[:4], str(tmp_path / "missing.parquet"), *base[5:], "--stage", "sft"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file or folder" in err


def test_dry_run_prints_the_command_and_the_composed_config(tmp_path: Path):
    """--dry-run composes the preset through verl's own entry point (`--cfg job`) and starts nothing."""
    from xrouter.verl_plugin.scripted import build_tiny_policy_model

    model = build_tiny_policy_model(tmp_path / "tiny")
    (tmp_path / "rows.parquet").write_bytes(b"")
    tools = tmp_path / "tools.yaml"
    tools.write_text("tools: []\n")
    cmd = [sys.executable, "-m", "xrouter.cli.main", "train", "--stage", "rl", "--preset", "cpu", "--model", str(model),
           "--train-files", str(tmp_path / "rows.parquet"), "--tools", str(tools), "--out", str(tmp_path / "o"),
           "--dry-run", "--", "xrouter.cost_lambda=7"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, rest = proc.stdout.split("\n", 1)
    assert first.startswith("xrouter train: VERL_PLATFORM=cpu ") and "--cfg job" in first
    assert "name: hf" in rest and "cost_lambda: 7" in rest and "trainer_mode: xrouter_sync" in rest
    assert not (tmp_path / "o" / "checkpoints").exists()
