"""CPU training on stock verl: the `cpu` platform, the `hf` rollout and the gloo process-group fix.

verl 0.9.1 ships no CPU platform and no CPU rollout; these three pieces, registered through verl's own
registries, let `main_ppo` and verl's SFT trainer run on a machine without a GPU. `install()` runs in
every verl process (driver, Ray workers, torchrun ranks) when VERL_PLATFORM=cpu, because the plugin
package calls it while `import verl` loads it, before verl resolves its platform. Settings that only
a config can express (SDPA attention, fp32, FSDP2, a faked Ray GPU count, one rollout server) are in
`xrouter/config/router_dapo_cpu.yaml`; `xrouter train --preset cpu` sets the environment.
"""

from __future__ import annotations

import os

PLATFORM = "cpu"


def selected() -> bool:
    """True when this process runs verl on the CPU platform (VERL_PLATFORM=cpu)."""
    return os.environ.get("VERL_PLATFORM", "").strip().lower() == PLATFORM


def install() -> None:
    """Register the platform and the rollout, and fix the process-group backend (idempotent)."""
    from verl.plugin.platform.platform_manager import PlatformRegistry
    from verl.workers.rollout import base as rollout_base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from xrouter.verl_plugin.cpu import distributed
    from xrouter.verl_plugin.cpu.platform import CPUPlatform
    from xrouter.verl_plugin.cpu.rollout import ROLLOUT_NAME

    if PlatformRegistry.get(PLATFORM) is not CPUPlatform:
        PlatformRegistry.register(platform=PLATFORM)(CPUPlatform)
    RolloutReplicaRegistry.register(ROLLOUT_NAME, _load_replica)
    # verl resolves the in-worker rollout adapter through this private table (no public hook in 0.9.1).
    rollout_base._ROLLOUT_REGISTRY[(ROLLOUT_NAME, "async")] = "xrouter.verl_plugin.cpu.rollout.HFServerAdapter"
    distributed.install()
    # verl registers its FSDP engine for the device types cuda and npu only; the engine itself asks the
    # platform for its device, so the CUDA registration serves the CPU (verl's documented override).
    os.environ.setdefault("VERL_ENGINE_DEVICE", "cuda")


def _load_replica():
    from xrouter.verl_plugin.cpu.rollout import HFReplica

    return HFReplica
