"""Training and smoke scripts: bash syntax and the recipe conventions.

Run: .venv/bin/python -m pytest -q tests/verl_plugin/test_scripts_on_cpu.py
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "train").glob("*.sh")) + [ROOT / "tests" / "special_e2e" / "run_tiny_gpu.sh"]


def test_expected_scripts_exist():
    """The three training scripts and the GPU smoke script are present."""
    names = {p.name for p in SCRIPTS}
    assert {
        "run_xrouter_qwen2.5_7b_8gpu.sh",
        "run_xrouter_multinode.sh",
        "run_xrouter_qwen2.5_0.5b_1gpu.sh",
        "run_tiny_gpu.sh",
    } <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_with_bash_n(script: Path):
    """`bash -n` accepts the script."""
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_follows_recipe_conventions(script: Path):
    """Strict mode, one main_ppo call on router_dapo, extra overrides passed through last."""
    text = script.read_text()
    assert "set -xeuo pipefail" in text
    assert text.count("python3 -m verl.trainer.main_ppo") == 1
    assert "--config-name router_dapo" in text
    assert text.rstrip().endswith('"$@"')
    assert "Hardware:" in text and "Expected time" in text


def test_required_verl_pins_the_installed_version():
    """REQUIRED_VERL.txt names the verl version the venv runs."""
    from importlib.metadata import version

    text = (ROOT / "REQUIRED_VERL.txt").read_text()
    assert f"VERL_VERSION={version('verl')}" in text


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted((ROOT / "train").glob("*.sh")), ids=lambda p: p.name)
def test_training_script_overrides_compose(script: Path, tmp_path: Path):
    """Each training script's override list composes through main_ppo (`--cfg job --resolve`), tools YAML written."""
    import os
    import sys

    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python3").write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1" = "-m" ] && [ "$2" = "verl.trainer.main_ppo" ]; then\n'
        # what Ray would see when main_ppo starts it: the bootstrap file under HOME and the usage-stats switch
        f'  {{ cat "$HOME/ray_bootstrap_config.yaml" 2>/dev/null; echo "stats=$RAY_USAGE_STATS_ENABLED"; }} > "{tmp_path}/ray_env.txt"\n'
        f'  exec {sys.executable} "$@" --cfg job --resolve > "{tmp_path}/job.yaml"\nfi\n'
        f'exec {sys.executable} "$@"\n'
    )
    (shims / "ray").write_text(
        f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "{tmp_path}/ray_args.txt"\n'
        'while [ "$1" != "--" ]; do shift; done; shift; exec "$@"\n'
    )
    (shims / "xrouter").symlink_to(Path(sys.executable).parent / "xrouter")
    for shim in ("python3", "ray"):
        (shims / shim).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shims}:{os.environ['PATH']}",
        "DATA_DIR": str(tmp_path),
        "CKPTS_DIR": str(tmp_path),
        "XROUTER_CACHE_PATH": str(tmp_path / "responses.sqlite"),
    }
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "tools.yaml").is_file()
    job = (tmp_path / "job.yaml").read_text()
    assert "name: xrouter_dapo" in job and "default_agent_loop: xrouter_agent" in job
    ray_env = (tmp_path / "ray_env.txt").read_text()
    assert "stats=0" in ray_env
    if script.name != "run_xrouter_multinode.sh":  # that one submits to a cluster started with the fix (header)
        assert "provider:\n  type: local" in ray_env
    else:  # the tool backend settings reach the cluster's workers through the job's runtime env
        flag = next(a for a in (tmp_path / "ray_args.txt").read_text().splitlines() if a.startswith("--runtime-env"))
        runtime_env = json.loads(flag.split("=", 1)[1])
        assert runtime_env["env_vars"]["XROUTER_CACHE_PATH"] == str(tmp_path / "responses.sqlite")
        assert {"XROUTER_TOOL_BACKEND", "XROUTER_TOOL_API_BASE", "XROUTER_CATALOG"} <= set(runtime_env["env_vars"])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_applies_the_ray_offline_fix(script: Path):
    """Every script keeps Ray off cloud-metadata addresses: bootstrap file under HOME, usage stats off."""
    text = script.read_text()
    assert "ray_bootstrap_config.yaml" in text and "RAY_USAGE_STATS_ENABLED=0" in text
    if script.name != "run_xrouter_multinode.sh":
        before_launch = text.split("python3 -m verl.trainer.main_ppo")[0]
        assert "export HOME=${RAY_HOME_DIR}" in before_launch and "HF_HOME" in before_launch
