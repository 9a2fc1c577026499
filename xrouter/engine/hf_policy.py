"""`hf:PATH`: a router checkpoint (a Hugging Face folder) run in-process on the CPU.

The policy renders the router chat exactly as training did (the folder's chat template, with the
offered tools, `add_generation_prompt=True`), samples with the same `LocalCausalLM` as the CPU training
rollout, and reads hermes `<tool_call>` blocks with the same parser as the training agent loop, so a
merged checkpoint of `xrouter train` behaves in `xrouter serve` and `xrouter bench` as it did in its
rollouts. Concurrent requests are sampled together in batches on one worker thread.

  xrouter serve --policy hf:runs/rl/model --replay data/ ...
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from xrouter.catalog import Usage
from xrouter.engine.policy import PolicySettings, RouterPolicyError, RouterPrice, RouterTurn
from xrouter.engine.router_response import hermes_calls
from xrouter.errors import UsageError
from xrouter.llm.local_lm import GenerationBatcher, LocalCausalLM, Sampling, strip_special_tokens

DEFAULT_MAX_NEW_TOKENS = 512


class HFRouterPolicy:
    """A local causal LM as the router: chat template in, hermes tool calls out."""

    def __init__(self, path: str, settings: PolicySettings) -> None:
        from xrouter.train.models import is_model_folder

        if not is_model_folder(Path(path)):
            raise UsageError(f"--policy hf:{path}: not a Hugging Face model folder (config, tokenizer, weights)")
        self.name = f"hf:{path}"
        self.lm = LocalCausalLM(path)
        _ = self.lm.tokenizer, self.lm.model  # load now: a broken folder fails at start-up, not on a request
        self.price = settings.price or RouterPrice()
        temperature = 0.0 if settings.temperature is None else float(settings.temperature)
        self.sampling = Sampling(temperature=temperature)
        self.max_new_tokens = min(int(settings.max_tokens or DEFAULT_MAX_NEW_TOKENS), DEFAULT_MAX_NEW_TOKENS)
        self._batcher: GenerationBatcher | None = None

    def prompt_ids(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[int]:
        """Token ids of the router chat as the training rollout built them."""
        tokenizer = self.lm.tokenizer
        text = tokenizer.apply_chat_template(messages, tools=tools or None, add_generation_prompt=True, tokenize=False)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """Sample the next router turn."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            ids = await loop.run_in_executor(None, self.prompt_ids, messages, tools)
            if self._batcher is None:
                self._batcher = GenerationBatcher(self.lm)
            limit = max(1, min(self.max_new_tokens, self._room(len(ids))))
            out = await self._batcher.generate(ids, limit, self.sampling)
        except (OSError, ValueError, RuntimeError) as exc:
            raise RouterPolicyError(f"local router model failed: {exc}") from None
        raw = self.lm.tokenizer.decode(out.token_ids, skip_special_tokens=False)
        # as in training: read the <tool_call> blocks first (they may be special tokens), then drop specials
        content, calls = hermes_calls(raw)
        text = strip_special_tokens(content, self.lm.tokenizer)
        usage = Usage(input_tokens=len(ids), output_tokens=len(out.token_ids))
        return RouterTurn(
            text=text,
            tool_calls=tuple(calls),
            usage=usage,
            cost_usd=self.price.cost(usage),
            latency_s=time.perf_counter() - started,
        )

    def _room(self, prompt_len: int) -> int:
        limit = getattr(self.lm.model.config, "max_position_embeddings", None) or (prompt_len + self.max_new_tokens)
        if prompt_len >= limit:
            raise ValueError(f"the router chat is {prompt_len} tokens, more than the model's {limit}")
        return limit - prompt_len

    async def aclose(self) -> None:
        """Nothing to close: the model stays in memory until the process exits."""


def build_hf_policy(arg: str, settings: PolicySettings) -> HFRouterPolicy:
    """Factory for `--policy hf:PATH` (registered by `xrouter.engine.policy`)."""
    if not arg:
        raise UsageError("--policy hf needs a model folder: --policy hf:PATH")
    return HFRouterPolicy(arg, settings)
