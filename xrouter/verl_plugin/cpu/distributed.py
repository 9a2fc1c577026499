"""One process group backend for the CPU: plain `gloo`.

verl builds the backend string `cpu:gloo,<device>:<backend>`; on the `cpu` platform that becomes
`cpu:gloo,cpu:gloo`, which torch rejects (the same device twice). The least invasive fix found is to
wrap verl's two process-group helpers in `verl.utils.distributed`, which verl modules import by name,
so that on this platform they hand torch the single backend `gloo`:

* `initialize_global_process_group_ray` (every Ray training worker) already takes a `backend` argument;
  the wrapper fills it in when verl leaves it unset;
* `initialize_global_process_group` (the torchrun SFT trainer) takes none, so the CPU version below
  initialises the group itself from the torchrun environment and returns the same triple.

`install()` must run before any verl worker module is imported: it runs while `import verl` loads
the plugin, which precedes every verl worker import.
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch.distributed as dist
import verl.utils.distributed as verl_distributed

BACKEND = "gloo"
_original_ray_init = verl_distributed.initialize_global_process_group_ray


def initialize_global_process_group_ray(timeout_second: int | None = None, backend: str | None = None) -> None:
    """verl's Ray-worker process group, with `gloo` as the backend unless one is given."""
    _original_ray_init(timeout_second=timeout_second, backend=backend or BACKEND)


def initialize_global_process_group(timeout_second: int = 36000) -> tuple[int, int, int]:
    """The torchrun process group on gloo; returns (local_rank, rank, world_size) like verl's helper."""
    if not dist.is_initialized():
        dist.init_process_group(
            backend=BACKEND,
            timeout=timedelta(seconds=timeout_second),
            init_method=os.environ.get("DIST_INIT_METHOD", None),
        )
    return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])


def install() -> None:
    """Point verl's process-group helpers at the gloo versions above."""
    verl_distributed.initialize_global_process_group_ray = initialize_global_process_group_ray
    verl_distributed.initialize_global_process_group = initialize_global_process_group
