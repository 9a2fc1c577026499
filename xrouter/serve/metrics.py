"""Prometheus text metrics of the router server, kept in plain counters (one event loop, no locks needed)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from xrouter.engine.trajectory import Trajectory, TurnRecord

# Request latency histogram buckets in seconds.
LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class ServerMetrics:
    """Counters behind `GET /metrics`."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (status code, routing strategy)
    errors: Counter[str] = field(default_factory=Counter)  # error code
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (model, "true"/"false")
    estimated: Counter[str] = field(default_factory=Counter)  # model: calls charged on estimated usage
    cost_replaced: Counter[str] = field(default_factory=Counter)  # model: implausible provider costs replaced
    latency_buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    latency_sum: float = 0.0
    latency_count: int = 0
    router_cost_usd: float = 0.0
    target_cost_usd: float = 0.0
    in_flight: int = 0

    def observe_latency(self, seconds: float) -> None:
        """Add one request's wall time to the histogram."""
        self.latency_sum += seconds
        self.latency_count += 1
        for index, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.latency_buckets[index] += 1

    def observe_episode(self, trajectory: Trajectory) -> None:
        """Count a finished episode: strategy, costs and calls per model."""
        self.requests[("200", trajectory.strategy)] += 1
        self.observe_spend(trajectory.turns)

    def observe_spend(self, turns: Sequence[TurnRecord]) -> None:
        """Add the router and target costs and the calls per model of some turns (also of a failed episode)."""
        for turn in turns:
            self.router_cost_usd += turn.router_cost_usd
            for call in turn.calls:
                if call.executed and call.model:
                    self.target_cost_usd += call.cost_usd
                    self.calls[(call.model, "true" if call.success else "false")] += 1
                    if call.estimated:
                        self.estimated[call.model] += 1
                    if call.cost_replaced:
                        self.cost_replaced[call.model] += 1

    def observe_error(self, status: int, code: str) -> None:
        """Count a request answered with an error status."""
        self.requests[(str(status), "error")] += 1
        self.errors[code] += 1

    def render(self) -> str:
        """The Prometheus text exposition."""
        lines = [
            "# HELP xrouter_requests_total Chat-completion requests by HTTP status and routing strategy.",
            "# TYPE xrouter_requests_total counter",
        ]
        for (status, strategy), count in sorted(self.requests.items()):
            lines.append(f'xrouter_requests_total{{status="{status}",strategy="{_escape(strategy)}"}} {count}')
        lines += [
            "# HELP xrouter_errors_total Requests answered with an error, by error code.",
            "# TYPE xrouter_errors_total counter",
        ]
        for code, count in sorted(self.errors.items()):
            lines.append(f'xrouter_errors_total{{code="{_escape(code)}"}} {count}')
        lines += [
            "# HELP xrouter_request_latency_seconds Wall time of successful requests.",
            "# TYPE xrouter_request_latency_seconds histogram",
        ]
        for bound, count in zip(LATENCY_BUCKETS, self.latency_buckets, strict=True):
            lines.append(f'xrouter_request_latency_seconds_bucket{{le="{bound:g}"}} {count}')
        lines.append(f'xrouter_request_latency_seconds_bucket{{le="+Inf"}} {self.latency_count}')
        lines.append(f"xrouter_request_latency_seconds_sum {self.latency_sum:.6f}")
        lines.append(f"xrouter_request_latency_seconds_count {self.latency_count}")
        lines += [
            "# HELP xrouter_cost_usd_total Dollars charged, by who was paid (router or target models).",
            "# TYPE xrouter_cost_usd_total counter",
            f'xrouter_cost_usd_total{{kind="router"}} {self.router_cost_usd:.9f}',
            f'xrouter_cost_usd_total{{kind="targets"}} {self.target_cost_usd:.9f}',
        ]
        lines += [
            "# HELP xrouter_target_calls_total Target-model calls by model and success.",
            "# TYPE xrouter_target_calls_total counter",
        ]
        for (model, ok), count in sorted(self.calls.items()):
            lines.append(f'xrouter_target_calls_total{{model="{_escape(model)}",success="{ok}"}} {count}')
        for name, help_text, counts in (
            ("estimated_calls", "Target calls charged on estimated usage (the provider sent none).", self.estimated),
            ("cost_replaced_calls", "Target calls whose implausible reported cost was replaced.", self.cost_replaced),
        ):
            lines += [f"# HELP xrouter_{name}_total {help_text}", f"# TYPE xrouter_{name}_total counter"]
            lines += [f'xrouter_{name}_total{{model="{_escape(m)}"}} {c}' for m, c in sorted(counts.items())]
        lines += [
            "# HELP xrouter_requests_in_flight Requests being served now.",
            "# TYPE xrouter_requests_in_flight gauge",
            f"xrouter_requests_in_flight {self.in_flight}",
        ]
        return "\n".join(lines) + "\n"
