"""Rollout-side throughput of the verl plugin on CPU: trajectories/s through verl's AgentLoopManager.

    .venv/bin/python scripts/bench_rollout.py --trajectories 64 --repeats 3

Setup (everything real except the policy): RouterBench rows from `xrouter preprocess`, verl's Ray
`AgentLoopManager` + streaming `RewardLoopManager` (1 worker each), the scripted token-level policy
(`xrouter.verl_plugin.scripted`), and target calls through LiteLLM over HTTP to the replay server on
127.0.0.1. All trajectories of a batch run concurrently in one agent worker.

Two runs per repeat on the same prompts:
* `xrouter_agent`: call the first pooled model, then `select_response` (2 router turns, 1 target call);
* baseline `single_turn_agent`: verl's stock loop, one direct answer, same reward manager and reward.
Reported: median wall time and trajectories/s, and, per trajectory, the mean seconds verl's own timers
attribute to the policy (`generate_sequences`), the xrouter tools (`tool_calls`, replay HTTP included)
and the reward (`compute_score`: xrouter's reward + verl's DAPO manager), against the trajectory's
wall time in the loop (`xrouter_rollout_s`) plus its reward time; the rest is verl bookkeeping
(prompt building, token merging, padding, Ray transfer).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from xrouter.errors import XRouterError

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "TOKENIZERS_PARALLELISM": "false",
    "WANDB_MODE": "disabled",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trajectories", type=int, default=64, help="concurrent trajectories per batch (default 64)")
    parser.add_argument("--n", type=int, default=4, help="rollouts per prompt (default 4; prompts = trajectories/n)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed repeats per variant after one warm-up (default 3)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("XROUTER_DATA") or "data") / "routerbench_slices" / "winograde_train.csv",
        help="RouterBench CSV used for rows and replay (default: data/routerbench_slices/winograde_train.csv)",
    )
    return parser.parse_args()


def offline_env() -> None:
    """Offline variables, Ray's local-provider HOME, and a loopback-only network namespace for Ray.

    Called before any thread or server starts, so the replay server, Ray and its workers all live in
    the private namespace (`xrouter.netns`); stops with one line when no namespace can be made.
    """
    from xrouter.netns import enter_private_network, ray_offline_env

    os.environ.update(OFFLINE)
    os.environ.update(ray_offline_env())
    enter_private_network()


def prepare(work: Path, data: Path, prompts: int) -> dict:
    """Rows, replay server, tool YAML and the tiny policy folder."""
    from xrouter.verl_plugin.scripted import build_tiny_policy_model, replay_rollout_workspace

    setup = replay_rollout_workspace(work, data, prompts)
    return {
        "rows": setup["rows"][0],
        "tools": setup["tools"],
        "model": build_tiny_policy_model(work / "policy"),
        "server": setup["server"],
    }


def compose(setup: dict, n: int):
    from xrouter.config import compose as compose_config
    from xrouter.verl_plugin.scripted import replay_rollout_overrides

    return compose_config("router_dapo", replay_rollout_overrides(setup["rows"], setup["tools"], setup["model"], n))


def make_batch(cfg, model: Path, prompts: int, n: int, agent: str):
    import numpy as np
    from transformers import AutoTokenizer
    from verl import DataProto
    from verl.trainer.ppo.utils import create_rl_dataset
    from verl.utils.dataset.rl_dataset import collate_fn

    tok = AutoTokenizer.from_pretrained(str(model))
    dataset = create_rl_dataset(cfg.data.train_files, cfg.data, tok, None, is_train=True)
    batch = DataProto.from_single_dict(collate_fn([dataset[i % len(dataset)] for i in range(prompts)]))
    batch.non_tensor_batch["uid"] = np.array([str(uuid.uuid4()) for _ in range(len(batch))], dtype=object)
    batch.non_tensor_batch["agent_name"] = np.array([agent] * len(batch), dtype=object)
    return batch.repeat(repeat_times=n, interleave=True)


def run_once(manager, batch) -> dict:
    start = time.perf_counter()
    out = manager.generate_sequences(batch)
    wall = time.perf_counter() - start
    timing = out.meta_info["timing"]
    rollout = out.non_tensor_batch.get("xrouter_rollout_s")
    return {
        "wall": wall,
        "generate": float(timing["agent_loop/generate_sequences/mean"]),
        "tools": float(timing["agent_loop/tool_calls/mean"]),
        "reward": float(timing["agent_loop/compute_score/mean"]),
        "rollout": float(sum(rollout) / len(rollout)) if rollout is not None else float("nan"),
    }


def main() -> int:
    args = parse_args()
    if not args.data.is_file():
        sys.stderr.write(f"bench_rollout: data file {args.data} not found (pass --data)\n")
        return 2
    try:
        offline_env()
    except XRouterError as exc:
        sys.stderr.write(f"bench_rollout: {exc}\n")
        return exc.exit_code
    import ray
    from verl.experimental.agent_loop import AgentLoopManager
    from verl.experimental.reward_loop import RewardLoopManager

    from xrouter.verl_plugin.scripted import ScriptedPolicyServer, call, select

    prompts = max(1, args.trajectories // args.n)
    work = Path(tempfile.mkdtemp(prefix="xrouter-bench-"))
    setup = prepare(work, args.data, prompts)
    cfg = compose(setup, args.n)
    env = {k: v for k, v in os.environ.items() if k in OFFLINE}
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env})
    try:
        policy = ScriptedPolicyServer(str(setup["model"]), {}, default=[call("{tool0}"), select("{tool0}")])
        rewards = RewardLoopManager(cfg)
        manager = AgentLoopManager.create(
            config=cfg, llm_client=policy, reward_loop_worker_handles=rewards.reward_loop_worker_handles
        )
        results: dict[str, list[dict]] = {"xrouter_agent": [], "single_turn_agent": []}
        for agent in results:
            batch = make_batch(cfg, setup["model"], prompts, args.n, agent)
            run_once(manager, batch)  # warm-up: worker imports, LiteLLM first call
            for _ in range(args.repeats):
                results[agent].append(run_once(manager, make_batch(cfg, setup["model"], prompts, args.n, agent)))
    finally:
        ray.shutdown()
        setup["server"].stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(os.environ["HOME"], ignore_errors=True)  # the Ray HOME made by offline_env()
    report(results, prompts * args.n)
    return 0


def report(results: dict[str, list[dict]], trajectories: int) -> None:
    from rich.console import Console
    from rich.table import Table

    med = {a: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for a, runs in results.items()}
    table = Table(
        title=f"{trajectories} concurrent trajectories, medians of {len(results['xrouter_agent'])} runs (CPU)"
    )
    for col in ("agent loop", "wall s", "traj/s", "policy s/traj", "tools s/traj", "reward s/traj", "loop s/traj"):
        table.add_column(col, justify="right")
    for agent, m in med.items():
        table.add_row(
            agent,
            f"{m['wall']:.2f}",
            f"{trajectories / m['wall']:.1f}",
            f"{m['generate']:.3f}",
            f"{m['tools']:.3f}",
            f"{m['reward']:.3f}",
            f"{m['rollout']:.3f}",
        )
    console = Console(width=120)
    console.print(table)
    x = med["xrouter_agent"]
    total = x["rollout"] + x["reward"]
    console.print(
        f"xrouter_agent per trajectory: tools {x['tools'] / total:.0%}, reward {x['reward'] / total:.0%}, "
        f"policy {x['generate'] / total:.0%}, verl rest {(total - x['tools'] - x['reward'] - x['generate']) / total:.0%} "
        f"of {total:.2f} s; throughput ratio xrouter/baseline = "
        f"{med['single_turn_agent']['wall'] / x['wall']:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
