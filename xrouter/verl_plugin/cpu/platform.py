"""The `cpu` platform: verl's device layer answered by the CPU, so verl's trainers run without a GPU.

verl asks its platform object for the device name, the torch device module, the collective backend,
the Ray resource that stands for an accelerator and a few memory and profiling hooks. Here the device
is "cpu", collectives use gloo, and the accelerator resource is Ray's `GPU` counter, which a CPU run
fakes with `ray_kwargs.ray_init.num_gpus=N` so that verl's resource pools can be placed at all.
Memory queries answer 0 and cache or profiler calls do nothing: a CPU has neither.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any

import torch
from verl.plugin.platform.platform_base import PlatformBase

from xrouter.llm.local_lm import cpu_threads

logger = logging.getLogger(__name__)


class CPUDevice:
    """Stands in for `torch.cuda` where verl calls the device module: `torch.cpu` plus no-op memory hooks."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)

    def is_available(self) -> bool:
        return True

    def current_device(self) -> str:
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device: Any) -> None:
        """There is one CPU device."""

    def get_device_name(self, device: Any = None) -> str:
        return "cpu"

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    manual_seed_all = manual_seed

    def get_rng_state(self, device: Any = None) -> torch.Tensor:
        return torch.get_rng_state()

    def set_rng_state(self, state: torch.Tensor, device: Any = None) -> None:
        torch.set_rng_state(state)

    def empty_cache(self) -> None:
        """No device cache on a CPU."""

    def ipc_collect(self) -> None:
        """No device IPC handles on a CPU."""

    def reset_peak_memory_stats(self, device: Any = None) -> None:
        """No device memory statistics on a CPU."""

    def set_per_process_memory_fraction(self, fraction: float, device: Any = None) -> None:
        """No device memory pool on a CPU."""

    def mem_get_info(self, device: Any = None) -> tuple[int, int]:
        return 0, 0

    def memory_allocated(self, device: Any = None) -> int:
        return 0

    memory_reserved = max_memory_allocated = max_memory_reserved = memory_allocated


class CPUPlatform(PlatformBase):
    """verl platform `cpu` (select it with VERL_PLATFORM=cpu)."""

    def __init__(self) -> None:
        # Ray starts its workers with one OpenMP thread; training and rollout take turns on the
        # machine in verl's sync trainer, so each may use every core while it runs.
        torch.set_num_threads(cpu_threads())
        self._device = CPUDevice()

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> Any:
        return self._device

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        return True

    def current_device(self) -> str:
        # verl passes this straight to `.to()` and `device=`: the CPU has no index.
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: Any) -> None:
        """There is one CPU device."""

    def synchronize(self, device_index: Any = None) -> None:
        """CPU work is synchronous."""

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        """The CPU allocator takes no settings."""

    def empty_cache(self) -> None:
        """No device cache on a CPU."""

    def get_device_capability(self, device_index: int = 0) -> tuple[None, None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        """No device profiler on a CPU."""

    def profiler_stop(self) -> None:
        """No device profiler on a CPU."""

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> None:
        return None
