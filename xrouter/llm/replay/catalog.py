"""The replay catalog: one entry per model in an outcome table, priced for token derivation.

RouterBench's 11 models come from `xrouter/resources/routerbench_models.yaml`. A model the file does
not know (e.g. in a user's own outcome table) gets an entry derived from the data: one flat price per
token, the recorded cost divided by the recorded (or estimated) tokens of all its rows, so derived
token counts stay in a realistic range. Every entry calls `openai/<name as in the data>` with
provider `replay`.
"""

from __future__ import annotations

from xrouter.catalog.catalog import Catalog, load_catalog
from xrouter.catalog.models import ModelSpec
from xrouter.data.outcomes import OutcomeTable
from xrouter.llm.charges import estimate_tokens

ROUTERBENCH_CATALOG = "routerbench_models.yaml"


def _derived_spec(name: str, table: OutcomeTable) -> ModelSpec:
    rows = table.frame[table.frame["model"] == name]
    total_cost = float(rows["cost_usd"].fillna(0).sum())
    tokens = 0
    for row in rows.itertuples(index=False):
        recorded_in, recorded_out = row.input_tokens, row.output_tokens
        tokens += int(recorded_in) if recorded_in == recorded_in else estimate_tokens(str(row.query_text))
        tokens += int(recorded_out) if recorded_out == recorded_out else estimate_tokens(str(row.response))
    price = round(total_cost / tokens * 1e6, 6) if tokens and total_cost > 0 else 0.0
    return ModelSpec(
        id=name,
        litellm_model=f"openai/{name}",
        provider="replay",
        tier="budget",
        input_usd_per_mtok=price,
        output_usd_per_mtok=price,
        context_window=128000,
        max_output_tokens=16384,
        description=f"Recorded model {name} (replayed; flat price derived from {len(rows)} recorded calls).",
    )


def replay_catalog(table: OutcomeTable) -> Catalog:
    """Catalog of the models in `table`: RouterBench entries from the shipped YAML, others derived."""
    shipped = load_catalog(None, use_env=False, base=ROUTERBENCH_CATALOG)
    models: dict[str, ModelSpec] = {}
    for name in table.models:
        models[name] = shipped.models[name] if name in shipped.models else _derived_spec(name, table)
    return Catalog(models=models, version=f"replay:{shipped.version}", sources=(*shipped.sources, *table.sources))


def catalog_yaml(catalog: Catalog, api_base: str | None = None) -> str:
    """The catalog as YAML to pass as `--catalog FILE` (every model pointed at `api_base` when given)."""
    import yaml

    entries = []
    for spec in catalog.models.values():
        entry = spec.model_dump(mode="json", exclude_defaults=True)
        entry.setdefault("input_usd_per_mtok", spec.input_usd_per_mtok)
        entry.setdefault("output_usd_per_mtok", spec.output_usd_per_mtok)
        if api_base:
            entry["api_base"] = api_base
        entries.append(entry)
    return yaml.safe_dump({"version": catalog.version, "models": entries}, sort_keys=False, allow_unicode=True)
