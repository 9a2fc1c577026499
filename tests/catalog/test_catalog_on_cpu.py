"""Catalog loading and validation. Run: .venv/bin/python -m pytest tests/catalog -q"""

from __future__ import annotations

from pathlib import Path

import pytest

from xrouter.catalog import TIERS, load_catalog
from xrouter.errors import CatalogError

UPSTREAM_ACTIVE = [
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o3",
    "o4-mini",
    "gpt-oss-120b",
    "gpt-oss-20b",
    "qwen3-235b-instruct",
    "qwen3-235b-thinking",
    "qwen3-coder-480b",
    "kimi-k2",
    "deepseek-r1",
    "deepseek-r1-tput",
]
EXTRA = ["o3-pro", "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(use_env=False)


def test_shipped_catalog_has_all_required_models(catalog):
    """The 18 upstream models plus o3-pro and the three Geminis are present."""
    assert set(UPSTREAM_ACTIVE + EXTRA) <= set(catalog.ids())
    assert len(catalog) >= 22


@pytest.mark.parametrize("model_id", UPSTREAM_ACTIVE + EXTRA)
def test_every_model_is_priced_and_valid(catalog, model_id):
    """Each entry has positive prices, a valid tier, sane limits and a description."""
    spec = catalog.get(model_id)
    assert spec.input_usd_per_mtok and spec.input_usd_per_mtok > 0
    assert spec.output_usd_per_mtok and spec.output_usd_per_mtok > 0
    assert spec.tier in TIERS
    assert 0 < spec.max_output_tokens <= spec.context_window
    assert spec.description and spec.litellm_model
    assert spec.tool_name.startswith("call_")


def test_upstream_prices_and_tiers_are_kept(catalog):
    """Spot-check prices and tiers against the upstream table."""
    assert (catalog.get("gpt-5").input_usd_per_mtok, catalog.get("gpt-5").output_usd_per_mtok) == (1.25, 10.0)
    assert catalog.get("deepseek-r1").tier == "premium"
    assert catalog.get("gpt-4.1-mini").tier == "budget"
    assert catalog.get("o3").tier == "specialized"
    assert catalog.get("o3-pro").output_usd_per_mtok == 80.0
    assert catalog.get("qwen3-coder-480b").litellm_model == "together_ai/Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8"


def test_tool_names_are_unique_and_derived_from_ids(catalog):
    """Tool names are call_<slug> with '-' and '.' replaced by '_', and never collide."""
    names = [s.tool_name for s in catalog.models.values()]
    assert len(names) == len(set(names))
    assert catalog.get("gpt-4.1-mini").tool_name == "call_gpt_4_1_mini"
    assert catalog.by_tool_name("call_gpt_4_1_mini").id == "gpt-4.1-mini"
    assert catalog.by_tool_name("call_nope") is None


def test_openai_reasoning_models_only_accept_temperature_one(catalog):
    """o-series and gpt-5 models carry the temperature-1.0 constraint and max_completion_tokens."""
    for model_id in ["gpt-5", "gpt-5-mini", "gpt-5-nano", "o3", "o4-mini", "o3-pro"]:
        c = catalog.get(model_id).constraints
        assert c.fixed_temperature == 1.0 and not c.supports_top_p
        assert c.token_param == "max_completion_tokens"
    assert catalog.get("gpt-4o").constraints.fixed_temperature is None


def test_fixed_sets_live_in_the_data(catalog):
    """Fixed sets 1-3 exist and name only catalog models."""
    assert set(catalog.fixed_sets) == {"1", "2", "3"}
    assert "o3-pro" in catalog.fixed_sets["1"] and len(catalog.fixed_set(1)) == 12
    with pytest.raises(CatalogError, match="unknown fixed set"):
        catalog.fixed_set(9)


def test_resolve_accepts_id_tool_name_and_litellm_string(catalog):
    """resolve() finds models by any of their three names."""
    for name in ["kimi-k2", "call_kimi_k2", "together_ai/moonshotai/Kimi-K2-Instruct"]:
        assert catalog.resolve(name).id == "kimi-k2"
    with pytest.raises(CatalogError, match="unknown model"):
        catalog.resolve("gpt-99")


def test_user_catalog_adds_and_overrides_models(tmp_path: Path):
    """A user file adds a local model and overrides one field of a shipped model."""
    user = tmp_path / "mine.yaml"
    user.write_text(
        """
version: mine
models:
  - id: my-local-qwen
    litellm_model: hosted_vllm/qwen
    api_base: http://127.0.0.1:8000/v1
    provider: local
    tier: budget
    input_usd_per_mtok: 0.01
    output_usd_per_mtok: 0.02
    context_window: 32768
    max_output_tokens: 4096
  - id: gpt-4o
    output_usd_per_mtok: 12.5
"""
    )
    cat = load_catalog(user, use_env=False)
    assert cat.get("my-local-qwen").api_base == "http://127.0.0.1:8000/v1"
    assert cat.get("gpt-4o").output_usd_per_mtok == 12.5
    assert cat.get("gpt-4o").input_usd_per_mtok == 2.5
    assert cat.version.endswith("+mine")


def test_env_variable_catalog_is_merged(tmp_path: Path, monkeypatch):
    """XROUTER_CATALOG names extra files merged over the shipped catalog."""
    user = tmp_path / "env.yaml"
    user.write_text("models:\n  - id: gpt-4o\n    input_usd_per_mtok: 3.0\n")
    monkeypatch.setenv("XROUTER_CATALOG", str(user))
    assert load_catalog().get("gpt-4o").input_usd_per_mtok == 3.0


def test_unknown_price_is_none_and_refused_for_training(tmp_path: Path):
    """A price written as null is 'unknown'; require_prices names the model."""
    user = tmp_path / "u.yaml"
    user.write_text("models:\n  - id: gpt-4o\n    output_usd_per_mtok: null\n")
    cat = load_catalog(user, use_env=False)
    assert cat.get("gpt-4o").has_price is False
    with pytest.raises(CatalogError, match="no price for gpt-4o"):
        cat.require_prices(["gpt-5", "gpt-4o"])


BROKEN = {
    "missing price": (
        "models:\n  - {id: x, litellm_model: x, provider: p, tier: budget, output_usd_per_mtok: 1,"
        " context_window: 10, max_output_tokens: 5}\n",
        "model 'x': missing price field 'input_usd_per_mtok'",
    ),
    "duplicate id": (
        "models:\n  - {id: gpt-4o}\n  - {id: gpt-4o}\n",
        "duplicate model id 'gpt-4o'",
    ),
    "unknown tier": ("models:\n  - {id: gpt-4o, tier: luxury}\n", "model 'gpt-4o': field 'tier'"),
    "malformed yaml": ("models: [\n  - id: : :\n", "malformed YAML"),
    "negative price": ("models:\n  - {id: gpt-4o, input_usd_per_mtok: -1}\n", "field 'input_usd_per_mtok'"),
    "unknown fixed-set member": ("fixed_sets:\n  '1': [gpt-5, nope]\n", "fixed set '1' names unknown model(s): nope"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_catalog_gives_one_clear_error(tmp_path: Path, case: str):
    """Every kind of broken catalog raises CatalogError naming the file and the problem."""
    text, expected = BROKEN[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError) as info:
        load_catalog(path, use_env=False)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    if case != "unknown fixed-set member":
        assert "bad.yaml" in message
