"""Settings of the router server and the components built from them (policy, caller, engine, ledger)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from xrouter.catalog import Catalog, load_catalog
from xrouter.engine.episode import EpisodeConfig, EpisodeEngine
from xrouter.engine.policy import PolicySettings, RouterPolicy, RouterPrice, build_policy, parse_policy_spec
from xrouter.engine.prompts import Mode
from xrouter.errors import UsageError
from xrouter.llm.limits import DEFAULT_MAX_ANSWER_BYTES, CallLimits
from xrouter.llm.redact import register_secret
from xrouter.llm.types import ModelCaller

logger = logging.getLogger(__name__)
DEFAULT_MODEL_NAMES = ("router", "xrouter")


@dataclass(frozen=True)
class ServeSettings:
    """Everything `xrouter serve` configures; checked once here with messages naming the flag to change."""

    models: tuple[str, ...]
    router_model: str = "router"
    router_api_base: str | None = None
    router_api_key: str | None = None
    policy: str | None = None
    router_price_in: float | None = None
    router_price_out: float | None = None
    router_temperature: float | None = 1.0
    router_max_tokens: int = 4096
    router_timeout_s: float = 120.0
    router_stream: bool = True
    mode: Mode = "agent"
    max_turns: int = 3
    max_calls_per_turn: int = 4
    max_total_calls: int = 8
    max_cost_usd: float | None = None
    cost_lambda: float | None = None
    one_step_select: bool = False
    target_timeout_s: float = 120.0
    replay_data: tuple[str, ...] = ()
    catalog_files: tuple[str, ...] = ()
    target_api_base: str | None = None
    ledger_path: str | None = "outputs/serve_ledger.jsonl"
    api_key: str | None = None
    max_body_bytes: int = 1 << 20
    request_timeout_s: float = 600.0
    model_names: tuple[str, ...] = field(default=DEFAULT_MODEL_NAMES)
    body_timeout_s: float = 30.0
    header_timeout_s: float = 10.0
    max_header_bytes: int = 32 << 10
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    allowed_fails: int = 3
    cooldown_s: float = 5.0
    stream_keepalive_s: float = 5.0
    cache_path: str | None = None

    def __post_init__(self) -> None:
        if not self.models:
            raise UsageError("--models is empty: name at least one target model (catalog id or replay data name)")
        if (self.router_price_in is None) != (self.router_price_out is None):
            raise UsageError("give both --router-price-in and --router-price-out, or neither")
        if self.max_body_bytes < 1024:
            raise UsageError(f"--max-body-bytes must be at least 1024, got {self.max_body_bytes}")
        if self.request_timeout_s <= 0 or self.router_timeout_s <= 0:
            raise UsageError("--request-timeout-s and --router-timeout-s must be > 0")
        if self.body_timeout_s <= 0 or self.header_timeout_s <= 0:
            raise UsageError("--body-timeout-s and --header-timeout-s must be > 0")
        if self.max_header_bytes < 1024 or self.max_answer_bytes < 1024:
            raise UsageError("--max-header-bytes and --max-answer-bytes must be at least 1024")
        if self.allowed_fails < 0 or self.cooldown_s < 0:
            raise UsageError("--allowed-fails and --cooldown-s must be >= 0 (--cooldown-s 0 turns cooldowns off)")
        if self.replay_data and self.target_api_base:
            raise UsageError("--replay-data answers targets in-process; drop --target-api-base (or use --catalog)")
        for flag, url in (("--router-api-base", self.router_api_base), ("--target-api-base", self.target_api_base)):
            if url is not None and not url.startswith(("http://", "https://")):
                raise UsageError(f"{flag} {url!r} is not an http(s) URL; e.g. http://127.0.0.1:8001/v1")
        if self.policy_spec() == "litellm" and self.router_model == "router":
            raise UsageError(
                "no router given: use --router-api-base URL (a router behind an OpenAI-compatible endpoint), "
                "or --policy litellm:CATALOG_ID (a catalog model as the router, e.g. litellm:gpt-5-nano)"
            )
        self._check_streaming_and_cache()
        try:
            self.episode_config()
        except ValueError as exc:  # name the flag, not the config field
            message = str(exc)
            names = ("max_turns", "max_calls_per_turn", "max_total_calls", "max_cost_usd", "target_timeout_s")
            for name in (*names, "cost_lambda"):
                message = message.replace(name, "--" + name.replace("_", "-"))
            raise UsageError(message) from None

    def _check_streaming_and_cache(self) -> None:
        if self.stream_keepalive_s <= 0:
            raise UsageError(f"--stream-keepalive-s must be > 0, got {self.stream_keepalive_s:g}")
        if self.cache_path is not None and self.replay_data:
            raise UsageError("--cache keeps answers of target calls over HTTP; drop it with --replay-data")

    def episode_config(self) -> EpisodeConfig:
        """The engine limits these settings describe."""
        return EpisodeConfig(
            mode=self.mode,
            max_turns=self.max_turns,
            max_calls_per_turn=self.max_calls_per_turn,
            max_total_calls=self.max_total_calls,
            max_cost_usd=self.max_cost_usd,
            target_timeout_s=self.target_timeout_s,
            cost_lambda=self.cost_lambda,
            one_step_select=self.one_step_select,
        )

    def call_limits(self) -> CallLimits:
        """Answer size cap and per-model cooldown of the target calls."""
        return CallLimits(self.max_answer_bytes, self.allowed_fails, self.cooldown_s)

    def policy_spec(self) -> str:
        """The `--policy` value, defaulting to `endpoint` with --router-api-base and `litellm` otherwise."""
        if self.policy:
            return self.policy
        return "endpoint" if self.router_api_base else "litellm"


@dataclass
class Components:
    """The live pieces behind the server; `aclose` releases them."""

    engine: EpisodeEngine
    catalog: Catalog
    ledger: object | None = None
    served_names: tuple[str, ...] = ()
    cache: object | None = None

    async def aclose(self) -> None:
        """Close the policy's connections, the ledger file and the response cache."""
        await self.engine.policy.aclose()
        close = getattr(self.engine.caller, "aclose", None)
        if close is not None:
            await close()
        for held in (self.ledger, self.cache):
            if held is not None:
                held.close()  # type: ignore[attr-defined]


def _targets(settings: ServeSettings, ledger: object | None, cache: object | None) -> tuple[Catalog, ModelCaller]:
    if settings.replay_data:
        from xrouter.data.outcomes import load_outcomes
        from xrouter.llm.replay import ReplayCaller, ReplayStore

        store = ReplayStore(load_outcomes([Path(p) for p in settings.replay_data]))
        return store.catalog, ReplayCaller(store)
    from xrouter.llm.client import LLMClient, RetryConfig

    catalog = load_catalog(list(settings.catalog_files) or None)
    retry = RetryConfig(total_timeout_s=settings.target_timeout_s)
    client = LLMClient(
        catalog,
        ledger=ledger,  # type: ignore[arg-type]
        cache=cache,  # type: ignore[arg-type]
        retry=retry,
        api_base=settings.target_api_base,
        limits=settings.call_limits(),
    )
    return catalog, client


def build_components(
    settings: ServeSettings, *, policy: RouterPolicy | None = None, caller: ModelCaller | None = None
) -> Components:
    """Build catalog, caller, policy, engine and ledger; `policy`/`caller` replace the configured ones."""
    for secret in (settings.api_key, settings.router_api_key):
        register_secret(secret)
    ledger = None
    if settings.ledger_path:
        from xrouter.llm.ledger import Ledger

        ledger = Ledger(settings.ledger_path)
    cache = None
    if settings.cache_path:
        from xrouter.llm.cache import ResponseCache

        cache = ResponseCache(settings.cache_path)
    catalog, built_caller = _targets(settings, ledger, cache)
    for name in settings.models:
        catalog.resolve(name)  # CatalogError (exit 2) names the unknown model and the known ones
    if policy is None:
        router_catalog = _router_catalog(settings, catalog)
        policy_settings = PolicySettings(
            router_model=settings.router_model,
            api_base=settings.router_api_base,
            api_key=settings.router_api_key,
            price=_router_price(settings, router_catalog),
            temperature=settings.router_temperature,
            max_tokens=settings.router_max_tokens,
            timeout_s=settings.router_timeout_s,
            catalog=router_catalog,
            model_ids=tuple(settings.models),
            max_turns=settings.max_turns,
            max_answer_bytes=settings.max_answer_bytes,
            stream_turns=settings.router_stream,
        )
        policy = build_policy(settings.policy_spec(), policy_settings)
    engine = EpisodeEngine(policy, caller or built_caller, catalog, settings.models, settings.episode_config())
    _warm_litellm(engine)
    names = tuple(dict.fromkeys((*settings.model_names, settings.router_model, policy.name)))
    return Components(engine=engine, catalog=catalog, ledger=ledger, served_names=names, cache=cache)


def _warm_litellm(engine: EpisodeEngine) -> None:
    """Load LiteLLM now when the router or a target goes through it, so that no request waits for the import."""
    models = [m for m in (getattr(engine.policy, "litellm_model", None),) if m]
    uses_litellm = getattr(engine.caller, "uses_litellm", None)  # an LLMClient knows which models skip direct HTTP
    if uses_litellm is not None:
        models += [spec.litellm_model for spec in engine.models if uses_litellm(spec)]
    if models:
        from xrouter.llm.transport import warm_litellm

        started = time.perf_counter()
        warm_litellm(models)
        logger.info("LiteLLM loaded and warmed for %d models in %.1fs", len(set(models)), time.perf_counter() - started)


def _router_catalog(settings: ServeSettings, targets: Catalog) -> Catalog:
    """Where a `litellm:` router model is looked up: the main catalog (the replay catalog lacks gpt-5-nano)."""
    if settings.replay_data:
        return load_catalog(list(settings.catalog_files) or None)
    return targets


def _router_price(settings: ServeSettings, catalog: Catalog) -> RouterPrice | None:
    """Router price: the price flags, else the catalog entry of --router-model, else 0 (with a warning).

    None leaves the price to the policy: a `litellm:` router is priced from its own catalog entry,
    and a policy that is not an LLM (e.g. `learned:`) costs nothing.
    """
    if settings.router_price_in is not None and settings.router_price_out is not None:
        return RouterPrice(settings.router_price_in, settings.router_price_out)
    kind, _ = parse_policy_spec(settings.policy_spec())
    if kind != "endpoint":
        return None
    if settings.router_model in catalog and catalog.get(settings.router_model).has_price:
        spec = catalog.get(settings.router_model)
        return RouterPrice(spec.input_usd_per_mtok or 0.0, spec.output_usd_per_mtok or 0.0)
    logger.warning(
        "router %r has no price (not in the catalog, no --router-price-in/--router-price-out): router_cost is 0",
        settings.router_model,
    )
    return RouterPrice()
