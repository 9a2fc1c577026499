"""Loading, merging and querying the model catalog (models + named fixed sets)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from xrouter.catalog.models import REQUIRED_PRICE_FIELDS, TIERS, ModelSpec, tool_name_for
from xrouter.errors import CatalogError

logger = logging.getLogger(__name__)

CATALOG_ENV = "XROUTER_CATALOG"
_DEFAULT_RESOURCE = "models.yaml"


@dataclass(frozen=True)
class Catalog:
    """An immutable, validated set of models and named fixed model sets."""

    models: Mapping[str, ModelSpec]
    fixed_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    version: str = "unversioned"
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        tools: dict[str, str] = {}
        for model_id in self.models:
            name = tool_name_for(model_id)
            if name in tools:
                raise CatalogError(f"models {tools[name]!r} and {model_id!r} map to the same tool name {name!r}")
            tools[name] = model_id
        object.__setattr__(self, "_by_tool", tools)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.models

    def __len__(self) -> int:
        return len(self.models)

    def ids(self) -> list[str]:
        """Model ids in catalog order."""
        return list(self.models)

    def get(self, model_id: str) -> ModelSpec:
        """The spec of `model_id`; CatalogError naming close ids when it is unknown."""
        spec = self.models.get(model_id)
        if spec is None:
            raise CatalogError(f"unknown model {model_id!r}; known models: {', '.join(self.models)}")
        return spec

    def resolve(self, name: str) -> ModelSpec:
        """Find a model by id, `call_<slug>` tool name or LiteLLM model string."""
        if name in self.models:
            return self.models[name]
        by_tool: dict[str, str] = self._by_tool  # type: ignore[attr-defined]
        if name in by_tool:
            return self.models[by_tool[name]]
        for spec in self.models.values():
            if spec.litellm_model == name:
                return spec
        return self.get(name)

    def by_tool_name(self, tool_name: str) -> ModelSpec | None:
        """The model a `call_<slug>` tool calls, or None for unknown tool names."""
        model_id = self._by_tool.get(tool_name)  # type: ignore[attr-defined]
        return None if model_id is None else self.models[model_id]

    def by_tier(self, tier: str) -> list[ModelSpec]:
        """Models of one tier, in catalog order."""
        if tier not in TIERS:
            raise CatalogError(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}")
        return [m for m in self.models.values() if m.tier == tier]

    def fixed_set(self, name: str | int) -> list[ModelSpec]:
        """Members of a named fixed set (e.g. "1")."""
        key = str(name)
        if key not in self.fixed_sets:
            raise CatalogError(f"unknown fixed set {key!r}; known sets: {', '.join(self.fixed_sets) or 'none'}")
        return [self.models[m] for m in self.fixed_sets[key]]

    def subset(self, model_ids: Iterable[str]) -> list[ModelSpec]:
        """Specs for several ids (each resolved like `resolve`)."""
        return [self.resolve(m) for m in model_ids]

    def require_prices(self, model_ids: Iterable[str]) -> None:
        """Raise CatalogError if any of `model_ids` lacks a price (training must not start then)."""
        missing = [m for m in model_ids if not self.resolve(m).has_price]
        if missing:
            raise CatalogError(
                f"no price for {', '.join(missing)}: set input_usd_per_mtok and output_usd_per_mtok in your catalog"
            )


def _read_yaml(source: str, text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise CatalogError(f"{source}:{where} malformed YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: expected a mapping with a 'models' list, got {type(data).__name__}")
    unknown = set(data) - {"version", "models", "fixed_sets"}
    if unknown:
        raise CatalogError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    return data


def _entries(source: str, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    models = data.get("models", [])
    if not isinstance(models, list):
        raise CatalogError(f"{source}: 'models' must be a list of entries")
    seen: set[str] = set()
    entries = []
    for index, entry in enumerate(models):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise CatalogError(f"{source}: models[{index}] must be a mapping with a string 'id'")
        if entry["id"] in seen:
            raise CatalogError(f"{source}: duplicate model id {entry['id']!r} (models[{index}])")
        seen.add(entry["id"])
        entries.append(entry)
    return entries


def _validate(source: str, raw: dict[str, Any]) -> ModelSpec:
    model_id = raw.get("id")
    for key in REQUIRED_PRICE_FIELDS:
        if key not in raw:
            raise CatalogError(f"{source}: model {model_id!r}: missing price field {key!r} (write null if unknown)")
    try:
        return ModelSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "entry"
        raise CatalogError(f"{source}: model {model_id!r}: field {loc!r}: {err['msg']}") from None


def _merge_sources(sources: Sequence[tuple[str, str]]) -> Catalog:
    raw_models: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    fixed: dict[str, tuple[str, ...]] = {}
    versions: list[str] = []
    for source, text in sources:
        data = _read_yaml(source, text)
        for entry in _entries(source, data):
            base = raw_models.get(entry["id"], {})
            raw_models[entry["id"]] = {**base, **entry}  # user files override field by field
            origin[entry["id"]] = source
        for name, members in (data.get("fixed_sets") or {}).items():
            if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
                raise CatalogError(f"{source}: fixed_sets[{name!r}] must be a list of model ids")
            fixed[str(name)] = tuple(members)
        versions.append(str(data.get("version", Path(source).stem)))
    models = {mid: _validate(origin[mid], raw) for mid, raw in raw_models.items()}
    for name, members in fixed.items():
        unknown = [m for m in members if m not in models]
        if unknown:
            raise CatalogError(f"fixed set {name!r} names unknown model(s): {', '.join(unknown)}")
    return Catalog(
        models=models,
        fixed_sets=fixed,
        version="+".join(versions) or "unversioned",
        sources=tuple(s for s, _ in sources),
    )


def _read_file(path: str | Path) -> tuple[str, str]:
    p = Path(path)
    try:
        return str(p), p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{p}: cannot read catalog file ({exc.strerror or exc})") from None


def shipped_catalog_text(resource: str = _DEFAULT_RESOURCE) -> str:
    """Text of a YAML file shipped in `xrouter/resources/`."""
    return resources.files("xrouter").joinpath("resources", resource).read_text(encoding="utf-8")


def load_catalog(
    extra: Iterable[str | Path] | str | Path | None = None,
    *,
    use_env: bool = True,
    base: str | None = _DEFAULT_RESOURCE,
) -> Catalog:
    """Load the shipped catalog, then merge user files (`extra`, then `$XROUTER_CATALOG`) over it.

    Args:
        extra: user catalog file(s) merged over the shipped one, in order.
        use_env: also merge the file(s) named by `XROUTER_CATALOG` (os.pathsep-separated).
        base: shipped resource to start from (None starts empty, e.g. for a replay-only catalog).
    """
    sources: list[tuple[str, str]] = []
    if base is not None:
        sources.append((f"xrouter/resources/{base}", shipped_catalog_text(base)))
    paths: list[str | Path] = []
    if use_env and os.environ.get(CATALOG_ENV):
        paths.extend(p for p in os.environ[CATALOG_ENV].split(os.pathsep) if p)
    if isinstance(extra, (str, Path)):
        paths.append(extra)
    elif extra is not None:
        paths.extend(extra)
    sources.extend(_read_file(p) for p in paths)
    if not sources:
        raise CatalogError("no catalog given: pass a catalog file or keep the shipped one")
    catalog = _merge_sources(sources)
    logger.debug("loaded %d models from %s", len(catalog), ", ".join(catalog.sources))
    return catalog
