"""OmegaConf resolvers of the shipped configs, registered when verl loads the plugin.

* `${xrouter_attn:}` -> "flash_attention_2" when flash-attn imports, else "sdpa" (logged once): verl
  defaults the actor to flash-attn, which a GPU node without the package cannot load;
* `${xrouter_flash_attn:}` -> whether flash-attn imports (verl's padding removal needs it).
"""

from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache

from omegaconf import OmegaConf

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def has_flash_attn() -> bool:
    """True when the flash-attn package can be imported here."""
    found = importlib.util.find_spec("flash_attn") is not None
    if not found:
        logger.warning("flash-attn is not installed: the actor uses SDPA attention and keeps padding")
    return found


def attention() -> str:
    """The attention implementation the policy model is loaded with."""
    return "flash_attention_2" if has_flash_attn() else "sdpa"


def register() -> None:
    """Register the resolvers (idempotent)."""
    for name, fn in (("xrouter_attn", attention), ("xrouter_flash_attn", has_flash_attn)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
