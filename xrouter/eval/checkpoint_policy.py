"""`hf:PATH` in the benchmark: a trained router checkpoint run through the episode engine, as served.

The policy object is the one `xrouter serve --policy hf:PATH` builds (`xrouter.engine.hf_policy`), the pool is
the benchmark's candidate models (`--models`), and the mode is the one the checkpoint was trained in (its
`xrouter.json`, else agent), so a benchmark sample is exactly what serving the checkpoint would have returned.
It samples at temperature 1, as in its training rollouts; `hf:PATH:T` samples at temperature T (`:0` is greedy).
"""

from __future__ import annotations

from collections.abc import Sequence

from xrouter.errors import UsageError
from xrouter.eval.datasets import BenchItem
from xrouter.eval.episodes import engine_sample
from xrouter.eval.policies import BenchContext, Policy, Sample

PREFIX = "hf:"


def parse_checkpoint_spec(arg: str) -> tuple[str, float]:
    """`PATH[:T]` -> (folder, sampling temperature; 1.0 when no number follows the last colon)."""
    folder, _, tail = arg.rpartition(":")
    try:
        temperature = float(tail)
    except ValueError:
        return arg, 1.0
    if not folder or temperature < 0:
        raise UsageError(f"--policy hf:{arg}: give hf:PATH or hf:PATH:T with a temperature T >= 0")
    return folder, temperature


class CheckpointPolicy(Policy):
    """A router checkpoint folder (`hf:PATH`) answering every query in an engine episode."""

    def __init__(self, name: str, folder: str, temperature: float = 1.0) -> None:
        super().__init__(name)
        self.folder = folder
        self.temperature = temperature
        self.engine = None

    def prepare(self, items: Sequence[BenchItem], ctx: BenchContext) -> None:
        """Load the checkpoint and build the engine over the candidate models."""
        from xrouter.engine.episode import EpisodeConfig, EpisodeEngine
        from xrouter.engine.hf_policy import build_hf_policy
        from xrouter.engine.policy import PolicySettings
        from xrouter.train.models import read_router_card

        if ctx.caller is None or ctx.catalog is None:
            raise UsageError(f"policy {self.name} needs a model backend")
        if not ctx.candidates:
            raise UsageError(f"policy {self.name} needs the pool it routes to: give --models A,B,...")
        mode = read_router_card(self.folder).get("mode", "agent")
        policy = build_hf_policy(self.folder, PolicySettings(temperature=self.temperature))
        config = EpisodeConfig(mode=mode, target_timeout_s=ctx.timeout_s or 120.0)
        self.engine = EpisodeEngine(policy, ctx.caller, ctx.catalog, list(ctx.candidates), config)

    async def run(self, item: BenchItem, ctx: BenchContext) -> Sample:
        """One episode; its answer is scored like any other policy's."""
        return await engine_sample(self.name, self.engine, item, ctx)
