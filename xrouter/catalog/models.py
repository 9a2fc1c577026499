"""Model catalog: validated `ModelSpec` entries loaded from YAML data files.

The shipped catalog lives in `xrouter/resources/models.yaml`; users merge their own file
over it (`--catalog FILE` or the `XROUTER_CATALOG` variable). Example entry::

    - id: gpt-4.1-mini
      litellm_model: gpt-4.1-mini
      provider: openai
      tier: budget
      input_usd_per_mtok: 0.4
      output_usd_per_mtok: 1.6
      context_window: 1047576
      max_output_tokens: 32768
      description: Mid-sized GPT-4.1 ...
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Tier = Literal["premium", "standard", "budget", "specialized"]
TIERS: tuple[str, ...] = ("premium", "standard", "budget", "specialized")
# Fields that must be written in every entry (null allowed for prices = "unknown price").
REQUIRED_PRICE_FIELDS = ("input_usd_per_mtok", "output_usd_per_mtok")


def tool_slug(model_id: str) -> str:
    """Lower-case `[a-z0-9_]` slug of a model id: `gpt-4.1-mini` -> `gpt_4_1_mini`."""
    slug = re.sub(r"[^a-z0-9]+", "_", model_id.lower()).strip("_")
    if not slug:
        raise ValueError(f"model id {model_id!r} has no letters or digits to build a tool name from")
    return slug


def tool_name_for(model_id: str) -> str:
    """The `call_<slug>` tool name the router uses for a model id."""
    return f"call_{tool_slug(model_id)}"


class ModelConstraints(BaseModel):
    """Request parameters a model accepts (the call layer applies them to every call)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fixed_temperature: float | None = None
    supports_top_p: bool = True
    token_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"


class ModelSpec(BaseModel):
    """One callable model: LiteLLM id, prices, limits, tags and the description the router sees."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    litellm_model: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    tier: Tier
    input_usd_per_mtok: float | None = Field(ge=0)
    output_usd_per_mtok: float | None = Field(ge=0)
    cached_input_usd_per_mtok: float | None = Field(default=None, ge=0)
    context_window: int = Field(gt=0)
    max_output_tokens: int = Field(gt=0)
    display_name: str = ""
    capabilities: tuple[str, ...] = ()
    reasoning: bool = False
    constraints: ModelConstraints = ModelConstraints()
    description: str = ""
    # Default per-call output budget when the router does not set max_tokens.
    default_max_tokens: int | None = Field(default=None, gt=0)
    # Optional endpoint for self-hosted models (e.g. a local vLLM server) and the env var holding its key.
    api_base: str | None = None
    api_key_env: str | None = None

    @field_validator("id")
    @classmethod
    def _id_has_slug(cls, value: str) -> str:
        tool_slug(value)
        return value

    @model_validator(mode="after")
    def _limits_consistent(self) -> ModelSpec:
        if self.default_max_tokens is not None and self.default_max_tokens > self.max_output_tokens:
            raise ValueError("default_max_tokens is larger than max_output_tokens")
        return self

    @property
    def tool_name(self) -> str:
        """The `call_<slug>` tool name of this model."""
        return tool_name_for(self.id)

    @property
    def name(self) -> str:
        """Human-readable name (display name, else the id)."""
        return self.display_name or self.id

    @property
    def has_price(self) -> bool:
        """True when both the input and the output price are known."""
        return self.input_usd_per_mtok is not None and self.output_usd_per_mtok is not None

    def budget_tokens(self, requested: int | None) -> int:
        """Output-token budget for one call: the request capped by the model's limit."""
        if requested is None:
            requested = self.default_max_tokens or min(8192 if self.reasoning else 2048, self.max_output_tokens)
        return max(1, min(int(requested), self.max_output_tokens))
