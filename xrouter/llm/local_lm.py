"""A local Hugging Face causal LM on the CPU: batched sampling with the log-probability of every token.

One home for running a policy checkpoint without a GPU, used by the `hf` rollout of CPU training
(token ids in, token ids and log-probs out, weights pushed from the trainer) and by the `hf:PATH`
router policy of serving and benchmarks (the same sampling on a rendered chat prompt).

`LocalCausalLM.generate` runs one left-padded batch with a KV cache. The log-probability it reports for a
token is taken under the temperature-scaled distribution over the whole vocabulary, which is what the
trainer recomputes for the same token (top-k and top-p only decide which tokens can be drawn).
`GenerationBatcher` gathers concurrent requests into such batches: on a CPU one forward over eight
sequences costs little more than over one.

torch and transformers are imported when a model is loaded, never at import time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
THREADS_ENV = "XROUTER_CPU_THREADS"


@dataclass(frozen=True)
class Sampling:
    """How tokens are drawn: temperature 0 is greedy; top_k <= 0 and top_p >= 1 turn those filters off."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    stop_token_ids: tuple[int, ...] = ()
    seed: int | None = None


@dataclass
class Generation:
    """What one sequence produced: new token ids (a stop token included), their log-probs, why it ended."""

    token_ids: list[int] = field(default_factory=list)
    log_probs: list[float] = field(default_factory=list)
    finish_reason: str = "length"


THINK_MARKERS = ("<think>", "</think>")


def strip_special_tokens(text: str, tokenizer: Any, keep: Sequence[str] = THINK_MARKERS) -> str:
    """Decoded text without the tokenizer's special tokens (end of turn, padding); thinking markers stay."""
    for token in getattr(tokenizer, "all_special_tokens", []) or []:
        if token not in keep:
            text = text.replace(token, "")
    return text.strip()


def cpu_threads(default: int | None = None) -> int:
    """Threads for torch on this machine: XROUTER_CPU_THREADS, else `default`, else every core."""
    value = os.environ.get(THREADS_ENV)
    if value and value.strip().isdigit() and int(value) > 0:
        return int(value)
    return default or os.cpu_count() or 1


class LocalCausalLM:
    """A causal LM folder (config, weights, tokenizer) loaded in fp32 with SDPA attention."""

    def __init__(self, path: str | Path, threads: int | None = None, max_batch: int = 8) -> None:
        self.path = str(path)
        self.threads = threads
        self.max_batch = max(1, max_batch)
        self._model: Any = None
        self._tokenizer: Any = None
        # loads may race from several worker threads; transformers' lazy imports are not thread-safe
        self._load_lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The torch module (loaded on first use)."""
        with self._load_lock:
            if self._model is None:
                import torch
                from transformers import AutoModelForCausalLM

                torch.set_num_threads(cpu_threads(self.threads))
                self._model = AutoModelForCausalLM.from_pretrained(
                    self.path, dtype=torch.float32, attn_implementation="sdpa"
                ).eval()
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The folder's tokenizer (loaded on first use)."""
        with self._load_lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.path)
        return self._tokenizer

    def stop_ids(self) -> set[int]:
        """Token ids that end a sequence: the config's and generation config's eos ids."""
        ids: set[int] = set()
        for source in (self.model.config, getattr(self.model, "generation_config", None)):
            eos = getattr(source, "eos_token_id", None)
            ids.update(eos if isinstance(eos, (list, tuple)) else ([eos] if eos is not None else []))
        return ids

    def pad_id(self) -> int:
        """Token used to left-pad a batch (never attended to)."""
        pad = getattr(self.model.config, "pad_token_id", None)
        return int(pad if pad is not None else min(self.stop_ids() or {0}))

    def load_weights(self, tensors: Mapping[str, Any]) -> int:
        """Copy named tensors into the model (tied weights may be absent); returns how many were loaded."""
        import torch

        state = self.model.state_dict()
        unknown = [name for name in tensors if name not in state]
        if unknown:
            raise KeyError(f"weights not in the model: {', '.join(sorted(unknown)[:5])}")
        with torch.no_grad():
            for name, value in tensors.items():
                state[name].copy_(value.to(state[name].dtype))
        return len(tensors)

    def generate(
        self, prompts: Sequence[Sequence[int]], max_new_tokens: Sequence[int], sampling: Sampling
    ) -> list[Generation]:
        """Sample a continuation for every prompt, in batches of at most `max_batch`."""
        results: list[Generation] = []
        for start in range(0, len(prompts), self.max_batch):
            end = start + self.max_batch
            results.extend(self._generate_batch(prompts[start:end], max_new_tokens[start:end], sampling))
        return results

    def _generate_batch(
        self, prompts: Sequence[Sequence[int]], limits: Sequence[int], sampling: Sampling
    ) -> list[Generation]:
        import torch

        model, pad = self.model, self.pad_id()
        stops = self.stop_ids() | set(sampling.stop_token_ids)
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        rng = torch.Generator().manual_seed(sampling.seed) if sampling.seed is not None else None
        outs = [Generation() for _ in prompts]
        live = [limit > 0 for limit in limits]
        cache = None
        with torch.inference_mode():
            for _ in range(max(limits, default=0)):
                if not any(live):
                    break
                step = model(
                    input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                    use_cache=True, logits_to_keep=1,
                )  # fmt: skip
                cache = step.past_key_values
                tokens, log_probs = pick_tokens(step.logits[:, -1, :].float(), sampling, rng)
                for i, out in enumerate(outs):
                    if not live[i]:
                        continue
                    token = int(tokens[i])
                    out.token_ids.append(token)
                    out.log_probs.append(float(log_probs[i]))
                    if token in stops:
                        out.finish_reason, live[i] = "stop", False
                    elif len(out.token_ids) >= limits[i]:
                        live[i] = False
                ids = tokens.view(-1, 1)
                mask = torch.cat([mask, torch.ones_like(ids)], dim=1)
                positions = positions[:, -1:] + 1
        return outs


def pick_tokens(logits: Any, sampling: Sampling, rng: Any = None) -> tuple[Any, Any]:
    """Draw one token per row of `logits`; return (tokens, their log-probs under logits / temperature)."""
    import torch

    if sampling.temperature <= 0:
        log_probs = torch.log_softmax(logits, dim=-1)
        tokens = log_probs.argmax(dim=-1)
        return tokens, log_probs.gather(-1, tokens[:, None]).squeeze(-1)
    scaled = logits / sampling.temperature
    log_probs = torch.log_softmax(scaled, dim=-1)
    allowed = scaled.clone()
    if 0 < sampling.top_k < allowed.shape[-1]:
        kth = torch.topk(allowed, sampling.top_k, dim=-1).values[:, -1:]
        allowed[allowed < kth] = float("-inf")
    if sampling.top_p < 1.0:
        order = torch.sort(allowed, dim=-1, descending=True)
        cumulative = torch.softmax(order.values, dim=-1).cumsum(dim=-1)
        cut = cumulative - torch.softmax(order.values, dim=-1) > sampling.top_p  # keep the token that crosses top_p
        allowed.scatter_(-1, order.indices, order.values.masked_fill(cut, float("-inf")))
    tokens = torch.multinomial(torch.softmax(allowed, dim=-1), 1, generator=rng).squeeze(-1)
    return tokens, log_probs.gather(-1, tokens[:, None]).squeeze(-1)


@dataclass
class _Request:
    prompt: list[int]
    limit: int
    sampling: Sampling
    future: asyncio.Future


class GenerationBatcher:
    """Runs concurrent `generate` calls of one event loop as batches on a worker thread, one batch at a time."""

    def __init__(self, lm: LocalCausalLM, gather_s: float = 0.01) -> None:
        self.lm = lm
        self.gather_s = gather_s
        self._queue: list[_Request] = []
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None

    async def generate(self, prompt: Sequence[int], max_new_tokens: int, sampling: Sampling) -> Generation:
        """Queue one prompt; resolves when its batch has run."""
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = loop.create_task(self._run())
        request = _Request(list(prompt), int(max_new_tokens), sampling, loop.create_future())
        self._queue.append(request)
        self._wakeup.set()
        return await request.future

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            await asyncio.sleep(self.gather_s)  # let the other trajectories of the step arrive
            self._wakeup.clear()
            batch, key = [], self._queue[0].sampling if self._queue else None
            for request in list(self._queue):
                if request.sampling == key and len(batch) < self.lm.max_batch:
                    batch.append(request)
                    self._queue.remove(request)
            if self._queue:
                self._wakeup.set()
            if not batch:
                continue
            try:
                outs = await asyncio.to_thread(
                    self.lm.generate, [r.prompt for r in batch], [r.limit for r in batch], key
                )
            except Exception as exc:  # every waiter learns why; the next batch still runs
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            for request, out in zip(batch, outs, strict=True):
                if not request.future.done():
                    request.future.set_result(out)
