"""Tool schemas derived from the catalog: `call_<slug>` per model plus `select_response`.

The schemas are built from catalog data at run time (prices are never typed twice) and come
in two formats: the OpenAI `tools` list and verl's tool-config YAML, whose `class_name`s point at
the tool classes of `xrouter.verl_plugin`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xrouter.catalog.catalog import Catalog
from xrouter.catalog.models import ModelSpec

SELECT_TOOL_NAME = "select_response"
CALL_TOOL_PREFIX = "call_"
CALL_TOOL_CLASS = "xrouter.verl_plugin.tools.CallModelTool"
SELECT_TOOL_CLASS = "xrouter.verl_plugin.tools.SelectResponseTool"


def _price_text(value: float | None) -> str:
    return "unknown" if value is None else f"${value:g}"


def describe_model(spec: ModelSpec) -> str:
    """The tool description the router reads: summary, prices and limits, all from catalog data."""
    tags = ", ".join(spec.capabilities) or "general"
    lines = [
        f"Send the user's request to {spec.name} ({spec.tier} tier) and get its answer back.",
        spec.description.strip(),
        f"Strengths: {tags}.",
        f"Price per 1M tokens: input {_price_text(spec.input_usd_per_mtok)}, "
        f"output {_price_text(spec.output_usd_per_mtok)}.",
        f"Context window {spec.context_window:,} tokens; at most {spec.max_output_tokens:,} output tokens per call.",
    ]
    if spec.constraints.fixed_temperature is not None:
        lines.append(f"Only temperature {spec.constraints.fixed_temperature:g} is accepted; other values are replaced.")
    if spec.reasoning:
        lines.append("Hidden reasoning tokens are billed as output and count against max_tokens.")
    return "\n".join(line for line in lines if line)


def call_tool_schema(spec: ModelSpec) -> dict[str, Any]:
    """OpenAI function schema of the `call_<slug>` tool for one model."""
    default_budget = spec.budget_tokens(None)
    return {
        "type": "function",
        "function": {
            "name": spec.tool_name,
            "description": describe_model(spec),
            "parameters": {
                "type": "object",
                "properties": {
                    "optimized_system_prompt": {
                        "type": "string",
                        "description": (
                            "System prompt written for this model and this task (role, answer format, "
                            "constraints). The user's conversation is sent after it automatically; do not copy it."
                        ),
                    },
                    # Ranges live in the descriptions: verl's tool schema drops JSON-schema bounds, and the
                    # router must read the same tools in training and serving.
                    "temperature": {
                        "type": "number",
                        "description": "Sampling temperature, 0.0 (deterministic) to 2.0 (creative). Default 1.0.",
                    },
                    "max_tokens": {
                        "type": "integer",
                        "description": (
                            f"Output-token budget for this call (default {default_budget}, at most "
                            f"{spec.max_output_tokens}). Smaller budgets cost less but may cut the answer short."
                        ),
                    },
                },
                "required": ["optimized_system_prompt"],
            },
        },
    }


def select_tool_schema(one_step: bool = False) -> dict[str, Any]:
    """OpenAI function schema of `select_response`; `one_step`: it may also name a model not called yet."""
    name_text = "Name of a call_<model> tool that was already called, e.g. call_gpt_5_mini."
    description = (
        "Finish by returning one earlier model answer to the user word for word. Call model tools "
        "first, compare their answers, then name the tool whose answer should be returned."
    )
    properties: dict[str, Any] = {"model_call_name": {"type": "string", "description": name_text}}
    if one_step:
        description += (
            " Naming a model tool that was not called yet calls that model now and returns its answer unread."
        )
        properties["model_call_name"]["description"] = "Name of a call_<model> tool, e.g. call_gpt_5_mini."
        properties["optimized_system_prompt"] = {
            "type": "string",
            "description": "System prompt for a model called by this select (only when it was not called yet).",
        }
    return {
        "type": "function",
        "function": {
            "name": SELECT_TOOL_NAME,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": ["model_call_name"]},
        },
    }


def openai_tools(
    catalog: Catalog, model_ids: Sequence[str], *, simple: bool = False, one_step_select: bool = False
) -> list[dict[str, Any]]:
    """OpenAI `tools` list: one call tool per model, plus `select_response` unless `simple`."""
    specs = _unique(catalog, model_ids)
    tools = [call_tool_schema(spec) for spec in specs]
    if not simple:
        tools.append(select_tool_schema(one_step_select))
    return tools


def verl_tool_config(catalog: Catalog, model_ids: Sequence[str], *, simple: bool = False) -> dict[str, Any]:
    """verl tool-config mapping (`tools: [{class_name, config, tool_schema}]`) for `initialize_tools_from_config`."""
    entries: list[dict[str, Any]] = []
    for spec in _unique(catalog, model_ids):
        entries.append(
            {
                "class_name": CALL_TOOL_CLASS,
                "config": {"type": "native", "model_id": spec.id},
                "tool_schema": call_tool_schema(spec),
            }
        )
    if not simple:
        entries.append(
            {"class_name": SELECT_TOOL_CLASS, "config": {"type": "native"}, "tool_schema": select_tool_schema()}
        )
    return {"tools": entries}


def _unique(catalog: Catalog, model_ids: Sequence[str]) -> list[ModelSpec]:
    specs: list[ModelSpec] = []
    seen: set[str] = set()
    for name in model_ids:
        spec = catalog.resolve(name)
        if spec.id not in seen:
            seen.add(spec.id)
            specs.append(spec)
    return specs
