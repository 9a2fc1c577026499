"""Peer gateways for the serve benchmarks: the LiteLLM proxy and the RouteLLM server, each in its own venv.

Each peer pins versions of packages xrouter also uses, so each gets a virtual environment of its own, made on
first use under `--peer-dir` (`outputs/bench_peers` by default; `--litellm-python` / `--routellm-python` name
an existing interpreter instead). A peer that cannot be installed or started is skipped with one line saying
why. Both are pointed at the replay server on 127.0.0.1 as an OpenAI-compatible upstream, with telemetry off
and the offline variables set; the benchmark runs them inside its private loopback-only network when it can.

* LiteLLM proxy `litellm[proxy]==1.100.0`: one worker, defaults, a config with the replay model as an
  `openai/` deployment, `--telemetry False`.
* RouteLLM `routellm==0.2.0` (after `torch==2.13.0`, the CPU wheel): its OpenAI-compatible server with the
  `random` router (no weights to download), strong and weak model both the replay model. Its own entry point
  binds 0.0.0.0, so it is started here through uvicorn on 127.0.0.1 instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("bench_peers")
OFFLINE = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOG": "ERROR",
    "NO_PROXY": "*",
}
# pip steps per peer; torch is installed first and pinned again beside routellm, so nothing bigger replaces it
PINS = {
    "litellm-proxy": [["litellm[proxy]==1.100.0"]],
    "routellm": [["torch==2.13.0"], ["routellm[serve]==0.2.0", "torch==2.13.0"]],
}
_CHECK = {"litellm-proxy": "import litellm.proxy.proxy_server", "routellm": "import routellm.controller"}
_ROUTELLM_LAUNCH = """
import sys
port, base = sys.argv[1], sys.argv[2]
sys.argv = ["routellm", "--routers", "random", "--base-url", base, "--api-key", "unused",
            "--strong-model", sys.argv[3], "--weak-model", sys.argv[3]]
import uvicorn
from routellm import openai_server
uvicorn.run(openai_server.app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)
"""


@dataclass
class Peer:
    """A peer gateway: its name, the interpreter of its venv, or why it is skipped."""

    name: str
    python: str | None
    skipped: str = ""


def peer_env(upstream: str) -> dict[str, str]:
    """The environment of a peer process: offline, telemetry off, OpenAI's SDK pointed at the upstream."""
    env = {**os.environ, **OFFLINE, "OPENAI_API_KEY": "unused", "OPENAI_BASE_URL": upstream}
    env.pop("PYTHONPATH", None)
    return env


def _install(name: str, venv: Path, log: Path) -> str | None:
    """Create the venv and install the pinned packages one step after the other; None (and the log) on failure."""
    python = venv / "bin" / "python"
    steps = [[sys.executable, "-m", "venv", str(venv)]] if not python.exists() else []
    steps += [[str(python), "-m", "pip", "install", "-q", *specs] for specs in PINS[name]]
    with log.open("w") as out:
        for step in steps:
            logger.warning("%s: %s", name, " ".join(step))
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=1800).returncode != 0:
                return None
    return str(python)


def ensure_peer(name: str, peer_dir: Path, python: str | None = None) -> Peer:
    """The peer's interpreter (made on first use), or a Peer with `skipped` saying why it cannot run."""
    if python is None:
        venv = peer_dir / name
        stamp = venv / ".bench-installed"
        python = str(venv / "bin" / "python")
        if not stamp.exists():
            peer_dir.mkdir(parents=True, exist_ok=True)
            log = peer_dir / f"{name}-install.log"
            if _install(name, venv, log) is None:
                pins = " then ".join(" ".join(specs) for specs in PINS[name])
                return Peer(name, None, f"could not install {pins} (see {log})")
            stamp.write_text(repr(PINS[name]) + "\n")
    check = subprocess.run([python, "-c", _CHECK[name]], capture_output=True, text=True, env=peer_env("x"))
    if check.returncode != 0:
        last = (check.stderr.strip().splitlines() or ["no output"])[-1]
        return Peer(name, None, f"{python} cannot import {name}: {last}")
    return Peer(name, python)


def litellm_command(python: str, port: int, upstream: str, model: str, workdir: Path) -> list[str]:
    """The LiteLLM proxy command (one worker, defaults, telemetry off) with a config naming the replay model."""
    config = workdir / "litellm_proxy.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {model}\n"
        "    litellm_params:\n"
        f"      model: openai/{model}\n"
        f"      api_base: {upstream}\n"
        "      api_key: unused\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    litellm = str(Path(python).parent / "litellm")
    return [litellm, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--telemetry", "False",
            "--num_workers", "1"]  # fmt: skip


def routellm_command(python: str, port: int, upstream: str, model: str) -> list[str]:
    """The RouteLLM server (random router, both models the replay model) on 127.0.0.1."""
    return [python, "-c", _ROUTELLM_LAUNCH, str(port), upstream, f"openai/{model}"]


ROUTELLM_MODEL = "router-random-0.5"  # RouteLLM's model name: router kind and threshold


def add_peer_arguments(parser: argparse.ArgumentParser) -> None:
    """--peers, --peer-dir, --litellm-python, --routellm-python."""
    repo = Path(__file__).resolve().parent.parent
    parser.add_argument("--peers", default="litellm-proxy,routellm",
                        help="peer gateways to measure: litellm-proxy, routellm (comma-separated), or none")  # fmt: skip
    parser.add_argument("--peer-dir", default=str(repo / "outputs" / "bench_peers"),
                        help="where the peers' virtual environments are made on first use")  # fmt: skip
    parser.add_argument("--litellm-python", help="interpreter of an existing venv with litellm[proxy]==1.100.0")
    parser.add_argument("--routellm-python", help="interpreter of an existing venv with routellm==0.2.0")


def wanted_peers(args: argparse.Namespace) -> tuple[list[Peer], list[str]]:
    """The peers that can run (venvs made on first use) and one line per skipped peer."""
    names = [n.strip() for n in args.peers.split(",") if n.strip() and n.strip() != "none"]
    given = {"litellm-proxy": args.litellm_python, "routellm": args.routellm_python}
    peers, skipped = [], []
    for name in names:
        if name not in PINS:
            raise SystemExit(f"--peers: unknown peer {name!r}; known: {', '.join(PINS)}, none")
        peer = ensure_peer(name, Path(args.peer_dir), given[name])
        if peer.python:
            peers.append(peer)
        else:
            skipped.append(f"skipped {name}: {peer.skipped}")
            print(skipped[-1], flush=True)
    return peers, skipped
