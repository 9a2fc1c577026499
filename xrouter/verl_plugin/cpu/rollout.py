"""The `hf` rollout: verl's token-in, token-out generation server answered by transformers on the CPU.

verl's GPU rollouts (vLLM, SGLang) are a replica that starts one server actor, plus an adapter inside
each training worker that pushes the trained weights to that server. `hf` has the same three parts:

* `HFRolloutServer`, a Ray actor holding the policy as a `LocalCausalLM`: `generate(request_id,
  prompt_ids=..., sampling_params=...)` returns verl's `TokenOutput` (new token ids and their
  log-probs); concurrent trajectories are sampled together in batches (`GenerationBatcher`);
* `HFReplica`, the `RolloutReplica` that starts that actor (it needs no accelerator);
* `HFServerAdapter`, the `BaseRollout` verl builds in the training worker; `update_weights` sends the
  actor's tensors to the server after every step, so the next rollout samples from the new policy.

Selected with `actor_rollout_ref.rollout.name=hf` (the CPU preset does this). Settings read from
`actor_rollout_ref.rollout.engine_kwargs.hf`: `max_batch` (sequences per forward, default 8) and
`threads` (torch threads while generating; default XROUTER_CPU_THREADS or every core).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import ray
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

from xrouter.llm.local_lm import GenerationBatcher, LocalCausalLM, Sampling

logger = logging.getLogger(__name__)
ROLLOUT_NAME = "hf"


def server_name(replica_rank: int) -> str:
    """Ray actor name of a replica's server (the adapter finds it by this name)."""
    return f"xrouter_hf_rollout_{replica_rank}"


def _engine_settings(config: Any) -> dict[str, Any]:
    kwargs = _field(config, "engine_kwargs") or {}
    return dict(kwargs.get(ROLLOUT_NAME, None) or {})


def _field(config: Any, name: str) -> Any:
    """A field of a config that may be a dataclass or an OmegaConf node without that key."""
    getter = getattr(config, "get", None)
    return getter(name, None) if callable(getter) else getattr(config, name, None)


def sampling_from(params: dict[str, Any], seed: int | None = None) -> Sampling:
    """verl's sampling parameters as `Sampling` (`top_k` -1 or 0 means no top-k)."""
    return Sampling(
        temperature=float(params.get("temperature", 1.0)),
        top_p=float(params.get("top_p", 1.0)),
        top_k=int(params.get("top_k", -1) or -1),
        stop_token_ids=tuple(int(t) for t in params.get("stop_token_ids") or ()),
        seed=seed,
    )


class HFRolloutServer:
    """Ray actor: the rollout policy on the CPU, generating for every trajectory of the step."""

    def __init__(self, config: Any, model_config: Any, replica_rank: int = 0) -> None:
        settings = _engine_settings(config)
        self.prompt_length = int(_field(config, "prompt_length"))
        self.response_length = int(_field(config, "response_length"))
        path = _field(model_config, "local_path") or _field(model_config, "path")
        self.lm = LocalCausalLM(path, threads=settings.get("threads"), max_batch=int(settings.get("max_batch", 8)))
        _ = self.lm.model  # load now: a missing folder fails at start-up, not on the first trajectory
        self.batcher = GenerationBatcher(self.lm)
        self.global_steps: int | None = None
        self.replica_rank = replica_rank
        logger.info("hf rollout server %d serving %s", replica_rank, path)

    def _max_new_tokens(self, params: dict[str, Any], prompt_len: int) -> int:
        for key in ("max_tokens", "max_new_tokens"):
            if params.get(key):
                return max(1, int(params[key]))
        # like verl's own servers: the response budget, bounded by what is left of prompt + response
        return max(1, min(self.response_length, self.prompt_length + self.response_length - prompt_len))

    async def generate(
        self, request_id: str, *, prompt_ids: list[int], sampling_params: dict[str, Any], **kwargs: Any
    ) -> TokenOutput:
        """Sample one continuation of `prompt_ids`; log-probs are per generated token."""
        params = dict(sampling_params or {})
        limit = self._max_new_tokens(params, len(prompt_ids))
        out = await self.batcher.generate(list(prompt_ids), limit, sampling_from(params))
        return TokenOutput(
            token_ids=out.token_ids,
            log_probs=out.log_probs if params.get("logprobs", True) else None,
            stop_reason="completed",
            extra_fields={"global_steps": self.global_steps},
        )

    def load_weights(self, tensors: dict[str, Any], global_steps: int | None = None) -> int:
        """Take the trained weights (HF parameter names); returns how many tensors were copied."""
        count = self.lm.load_weights(tensors)
        if global_steps is not None:
            self.global_steps = global_steps
        return count

    def set_global_steps(self, global_steps: int) -> None:
        """Step number echoed in every TokenOutput (verl tracks policy staleness with it)."""
        self.global_steps = global_steps

    def get_server_address(self) -> tuple[str, int]:
        """No HTTP endpoint: verl reaches this server through its actor handle only."""
        return "127.0.0.1", 0

    # verl's memory and scheduling hooks: nothing to free or pause on a CPU.
    async def wake_up(self, *args: Any, **kwargs: Any) -> None: ...
    async def sleep(self, *args: Any, **kwargs: Any) -> None: ...
    async def clear_kv_cache(self, *args: Any, **kwargs: Any) -> None: ...
    async def release_kv_cache(self, *args: Any, **kwargs: Any) -> None: ...
    async def resume_kv_cache(self, *args: Any, **kwargs: Any) -> None: ...
    async def resume_generation(self, *args: Any, **kwargs: Any) -> None: ...
    async def start_profile(self, *args: Any, **kwargs: Any) -> None: ...
    async def stop_profile(self, *args: Any, **kwargs: Any) -> None: ...

    async def abort_all_requests(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Requests finish on their own (the trainer is synchronous): nothing is aborted."""
        return {"aborted_count": 0, "request_ids": []}


class HFReplica(RolloutReplica):
    """Starts one `HFRolloutServer` actor per replica; it uses CPUs only."""

    def rollout_worker_use_gpu(self) -> bool:
        return False

    async def launch_servers(self) -> None:
        """Create the server actor (named, so the training worker's adapter can reach it)."""
        server = (
            ray.remote(HFRolloutServer)
            .options(name=server_name(self.replica_rank), num_cpus=1, max_concurrency=self.max_concurrency)
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        address, port = await server.get_server_address.remote()
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"{address}:{port}"


class HFServerAdapter(BaseRollout):
    """In the training worker: hands the actor's weights to this replica's `HFRolloutServer`."""

    def __init__(self, config: Any, model_config: Any, device_mesh: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, model_config, device_mesh)
        world = max(1, self.config.tensor_model_parallel_size * self.config.data_parallel_size)
        rank = int(os.environ.get("RANK", 0))
        self.replica_rank = rank // world
        self.is_leader = rank % world == 0  # one worker per replica sends the weights
        self._server: Any = None

    async def resume(self, tags: list[str]) -> None:
        """Weights and cache stay in CPU memory: nothing to resume."""

    async def release(self) -> None:
        """Nothing to release on a CPU."""

    async def update_weights(self, weights: Any, wire_format: str = "named_tensors", **kwargs: Any) -> None:
        """Collect the full tensors of this step and load them into the server."""
        if wire_format != "named_tensors":
            raise ValueError(f"the hf rollout takes full named tensors, not {wire_format!r} weight updates")
        tensors: dict[str, Any] = {}
        if hasattr(weights, "__aiter__"):
            async for name, tensor in weights:
                tensors[name] = tensor.detach().to("cpu").clone()
        else:
            for name, tensor in weights:
                tensors[name] = tensor.detach().to("cpu").clone()
        if not self.is_leader:
            return
        if self._server is None:
            self._server = ray.get_actor(server_name(self.replica_rank))
        await self._server.load_weights.remote(tensors, global_steps=kwargs.get("global_steps"))
