"""The benchmark harness: run policies over datasets through a model backend, log samples, summarise, plot.

    config = BenchConfig(datasets=["data/routerbench_slices"], policies=["single:*", "oracle"],
                         backend="replay", out_dir="outputs/bench", split="eval")
    result = run_bench(config)          # summary.csv, aiq.csv, samples.jsonl, frontier.png in out_dir

Backends: `replay` answers from the recorded outcomes (in-process, or over HTTP with `replay_url`, a running
`xrouter replay serve`), `live` calls the catalog models through LiteLLM (optionally through a response
cache), `cache` answers only from a response cache (a miss is a failed call). `--resume` keeps every
(policy, dataset, query) already in samples.jsonl and runs only the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from xrouter.errors import UsageError
from xrouter.eval.backends import build_caller, catalog_prices
from xrouter.eval.config import BenchConfig
from xrouter.eval.datasets import BenchData, BenchItem, load_bench_data
from xrouter.eval.episodes import LearnedPolicy
from xrouter.eval.policies import (
    KEYWORDS,
    PREFIXES,
    BenchContext,
    OraclePolicy,
    Policy,
    RandomPolicy,
    RankedPolicy,
    SinglePolicy,
)  # fmt: skip
from xrouter.eval.samples import SampleLog, sample_key
from xrouter.eval.summary import failures, policy_family, summarize
from xrouter.eval.sweep import sweep_policies
from xrouter.io import atomic_path, atomic_write_text, refuse_existing
from xrouter.llm.types import ModelCaller

log = logging.getLogger(__name__)


@dataclass
class BenchResult:
    """Where the outputs went and the summary itself."""

    out_dir: Path
    summary: pd.DataFrame
    aiq: pd.DataFrame
    frontier: Path | None
    dropped: dict[str, int]
    skipped: int
    ran: int
    failures: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # policy -> (failed, total, first error)


def expand_policies(specs: Sequence[str], candidates: Sequence[str]) -> list[str]:
    """Validate policy specs and expand `single:*` into one `single:<model>` per candidate."""
    out: list[str] = []
    for spec in specs:
        if spec == "single:*":
            if not candidates:
                raise UsageError("single:* needs candidate models (an outcome table or --models)")
            out.extend(f"single:{m}" for m in candidates)
        elif spec in KEYWORDS or any(spec.startswith(p) and len(spec) > len(p) for p in PREFIXES):
            out.append(spec)
        else:
            raise UsageError(
                f"unknown --policy {spec!r}: use single:<model>, single:*, cheapest, strongest, random, oracle,"
                " learned:<DIR>[:lambda], hf:<checkpoint folder> or router:<base_url>"
            )
    return list(dict.fromkeys(out))


def build_policy(spec: str, config: BenchConfig, embedder: Any = None) -> Policy:
    """The policy object for one expanded spec."""
    if spec.startswith("single:"):
        return SinglePolicy(spec, spec[len("single:") :])
    if spec in ("cheapest", "strongest"):
        return RankedPolicy(spec)
    if spec == "random":
        return RandomPolicy(spec)
    if spec == "oracle":
        if config.backend != "replay":
            raise UsageError("the oracle policy needs recorded outcomes: use --backend replay with an outcome table")
        return OraclePolicy(spec)
    if spec.startswith("hf:"):
        from xrouter.eval.checkpoint_policy import CheckpointPolicy, parse_checkpoint_spec

        return CheckpointPolicy(spec, *parse_checkpoint_spec(spec[len("hf:") :]))
    if spec.startswith("learned:"):
        from xrouter.eval.learned import parse_learned_policy

        folder, lam = parse_learned_policy(spec[len("learned:") :])
        return LearnedPolicy(spec, folder, lam, embedder)
    from xrouter.eval.remote import RemoteRouterPolicy

    return RemoteRouterPolicy(spec, spec[len("router:") :], api_key=config.router_api_key)


def load_all(config: BenchConfig) -> list[BenchData]:
    """Load every --dataset with the split and limit applied."""
    data = [load_bench_data(d, split=config.split, holdout=config.holdout, seed=config.seed) for d in config.datasets]
    for d in data:
        if config.limit is not None:
            per: dict[str, int] = {}
            kept = []
            for item in d.items:
                if per.get(item.dataset, 0) < config.limit:
                    per[item.dataset] = per.get(item.dataset, 0) + 1
                    kept.append(item)
            d.items = kept
            if d.table is not None:
                d.table = d.table.subset(i.query_id for i in kept)
        if not d.items:
            raise UsageError(f"{d.source}: no queries left after --split {config.split} and --limit")
    seen: dict[tuple[str, str], int] = {}
    for n, d in enumerate(data):  # the same query from two --dataset arguments would be run and counted twice
        for item in d.items:
            first = seen.setdefault((item.dataset, item.query_id), n)
            if first != n:
                raise UsageError(
                    f"--dataset {d.source}: query {item.query_id!r} of {item.dataset} also comes from --dataset"
                    f" {data[first].source}; give each dataset once"
                )
    return data


def build_context(config: BenchConfig, data: list[BenchData], caller: ModelCaller | None) -> BenchContext:
    """Candidates and recorded outcomes shared by the policies."""
    tables = [d.table for d in data if d.table is not None]
    ctx = BenchContext(caller, list(config.models), timeout_s=config.timeout_s, max_tokens=config.max_tokens,
                       seed=config.seed)  # fmt: skip
    if tables:
        frame = pd.concat([t.frame for t in tables], ignore_index=True)
        from xrouter.data.outcomes import OutcomeTable

        table = OutcomeTable(frame)
        ctx.scores, ctx.costs, ctx.responses = table.pivot("score"), table.pivot("cost_usd"), table.pivot("response")
        if not ctx.candidates:
            ctx.candidates = table.models
    return ctx


def _caller_catalog(config: BenchConfig, data: list[BenchData], caller: ModelCaller | None) -> Any:
    """The catalog the caller resolves models in: its own, else the replay catalog of the data, else the main one."""
    if caller is None:
        return None
    own = getattr(caller, "catalog", None)
    if own is not None:
        return own
    tables = [d.table for d in data if d.table is not None]
    if tables:
        from xrouter.data.outcomes import OutcomeTable
        from xrouter.llm.replay import replay_catalog

        return replay_catalog(OutcomeTable(pd.concat([t.frame for t in tables], ignore_index=True)))
    from xrouter.catalog import load_catalog

    return load_catalog(config.catalog)


RUN_FIELDS = ("datasets", "split", "holdout", "seed", "limit")
OUTPUT_FILES = ("samples.jsonl", "summary.csv", "aiq.csv", "run.json", "frontier.png")


def _check_run_file(out: Path, config: BenchConfig) -> dict[str, Any]:
    """Refuse to mix runs (a resumed run must use the same datasets, split and seed); return what run.json holds."""
    fields = {k: v for k, v in asdict(config).items() if k in RUN_FIELDS}
    run_file = out / "run.json"
    if config.resume and run_file.exists():
        before = json.loads(run_file.read_text(encoding="utf-8"))
        changed = [k for k in fields if before.get(k) != fields[k]]
        if changed:
            raise UsageError(f"--resume: {', '.join(changed)} differ from the run in {out}; use a new --out")
    elif not config.resume:
        refuse_existing([out / name for name in OUTPUT_FILES], overwrite=config.overwrite, resumable=True)
    return fields


def run_bench(
    config: BenchConfig, *, caller: ModelCaller | None = None, console: Any = None, embedder: Any = None
) -> BenchResult:
    """Run the benchmark described by `config` and write its outputs; `caller` overrides the backend."""
    from rich.console import Console

    console = console or Console(stderr=True)
    out = Path(config.out_dir)
    run_fields = _check_run_file(out, config)
    data = load_all(config)
    if config.backend != "replay" and any(d.table is not None for d in data):
        raise UsageError(
            "outcome tables hold recorded correctness, not gold answers, so fresh answers cannot be scored:"
            " use --backend replay for them (live/cache backends need an eval set or a preprocessed parquet)"
        )
    items: list[BenchItem] = [i for d in data for i in d.items]
    needs_backend = any(not p.startswith("router:") for p in config.policies)
    caller = caller if caller is not None else (build_caller(config, data) if needs_backend else None)
    ctx = build_context(config, data, caller)
    ctx.catalog = _caller_catalog(config, data, caller)
    if config.backend != "replay":
        ctx.prices = catalog_prices(config.catalog, ctx.candidates)
    names = expand_policies(config.policies, ctx.candidates)
    policies = sweep_policies(names, config.lambdas, lambda n: build_policy(n, config, embedder))
    names = [p.name for p in policies]
    log_file = SampleLog(out / "samples.jsonl")
    for policy in policies:
        policy.prepare(items, ctx)
    # everything is validated: only now touch --out, so a bad flag or file leaves no partial output behind
    out.mkdir(parents=True, exist_ok=True)
    if config.overwrite:
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
    atomic_write_text(out / "run.json", json.dumps(run_fields, indent=1) + "\n")
    log_file.repair()
    done = log_file.done_keys() if config.resume else set()
    skipped = sum(1 for p in policies for i in items if (p.name, i.dataset, i.query_id) in done)
    try:
        ran = asyncio.run(_run_all(policies, items, ctx, done, log_file, config.concurrency, console))
    finally:
        log_file.close()
    dropped: dict[str, int] = {}
    for d in data:
        for ds, n in d.dropped_incomplete.items():
            dropped[ds] = dropped.get(ds, 0) + n
    bases = [getattr(p, "base", p) for p in policies]  # a λ point runs its base policy
    baseline = next((policy_family(p.name) for p in bases
                     if isinstance(p, LearnedPolicy) and p.router.spec.kind == "table"), None)  # fmt: skip
    return _finish(out, config, names, items, log_file, dropped, skipped, ran, baseline)


async def _run_all(
    policies: list[Policy], items: list[BenchItem], ctx: BenchContext, done: set, log_file: SampleLog,
    concurrency: int, console: Any,
) -> int:  # fmt: skip
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    sem = asyncio.Semaphore(concurrency)
    ran = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        for policy in policies:
            todo = [i for i in items if (policy.name, i.dataset, i.query_id) not in done]
            task = progress.add_task(policy.name, total=len(items), completed=len(items) - len(todo))

            async def one(item: BenchItem, policy: Policy = policy, task: Any = task) -> None:
                nonlocal ran
                async with sem:
                    sample = await policy.run(item, ctx)
                log_file.append(sample)
                ran += 1
                progress.advance(task)

            await asyncio.gather(*(one(i) for i in todo))
            closer = getattr(policy, "aclose", None)
            if closer is not None:
                await closer()
    return ran


def _finish(
    out: Path, config: BenchConfig, names: list[str], items: list[BenchItem], log_file: SampleLog,
    dropped: dict[str, int], skipped: int, ran: int, baseline: str | None,
) -> BenchResult:  # fmt: skip
    # order samples like the items, so sums (and the summary) do not depend on completion order or resumes
    order = {(p, i.dataset, i.query_id): n for n, (p, i) in enumerate((p, i) for p in names for i in items)}
    samples = sorted((r for r in log_file.read() if sample_key(r) in order), key=lambda r: order[sample_key(r)])
    summary, aiq_frame = summarize(samples, names, dropped=dropped, aiq_range=config.aiq_range,
                                   baseline=baseline if config.bootstrap else None, resamples=config.bootstrap,
                                   seed=config.seed)  # fmt: skip
    with atomic_path(out / "summary.csv") as tmp:
        summary.to_csv(tmp, index=False, float_format="%.10g")
    with atomic_path(out / "aiq.csv") as tmp:
        aiq_frame.to_csv(tmp, index=False, float_format="%.10g")
    frontier = None
    if config.plot and len(summary):
        from xrouter.eval.plots import plot_frontier

        datasets = set(summary["dataset"])
        shown = summary[summary["dataset"] == "all"] if "all" in datasets else summary
        title = f"accuracy vs cost ({', '.join(sorted(datasets - {'all'}))}; n={int(shown['n'].max())} per policy)"
        frontier = plot_frontier(shown, out / "frontier.png", title=title)
    return BenchResult(out, summary, aiq_frame, frontier, dropped, skipped, ran, failures(samples))
