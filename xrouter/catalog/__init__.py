"""Model catalog: specs, prices, fixed sets and the tool schemas derived from them."""

from xrouter.catalog.catalog import CATALOG_ENV, Catalog, load_catalog
from xrouter.catalog.models import TIERS, ModelConstraints, ModelSpec, tool_name_for, tool_slug
from xrouter.catalog.pricing import Usage, cost_usd, worst_case_cost_usd
from xrouter.catalog.tools import (
    SELECT_TOOL_NAME,
    call_tool_schema,
    openai_tools,
    select_tool_schema,
    verl_tool_config,
)

__all__ = [
    "CATALOG_ENV",
    "SELECT_TOOL_NAME",
    "TIERS",
    "Catalog",
    "ModelConstraints",
    "ModelSpec",
    "Usage",
    "call_tool_schema",
    "cost_usd",
    "load_catalog",
    "openai_tools",
    "select_tool_schema",
    "tool_name_for",
    "tool_slug",
    "verl_tool_config",
    "worst_case_cost_usd",
]
