"""Test-wide setup: every test runs offline, and Ray clusters started by tests stay on loopback.

Run everything with `make test`. The environment below is applied at import, before any test
module imports litellm, transformers or ray, and before any thread or server starts: the whole
test process then moves into a private network namespace holding only loopback
(`xrouter.netns.enter_private_network`), so every server, Ray cluster and subprocess a test starts
lives there too. Where no namespace can be made, Ray tests fail with the reason (non-Ray tests run
as usual); XROUTER_RAY_NETNS=0 opts out and runs them on the machine's network.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from xrouter import netns

_OFFLINE = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "WANDB_MODE": "disabled",
}
os.environ.update(_OFFLINE)
os.environ.pop("XROUTER_CATALOG", None)
for _key in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "GEMINI_API_KEY", "ANTHROPIC_API_KEY"):
    os.environ.pop(_key, None)

# Ray's dashboard probes cloud metadata addresses unless HOME holds a local-provider bootstrap file.
_RAY_HOME = netns.ray_home(tempfile.gettempdir())
os.environ.update(netns.ray_offline_env(_RAY_HOME))
# A handle on the namespace the tests started in (the machine's network), for tests that look at it.
_HOST_NETNS_FD = None if netns.in_private_network() else os.open("/proc/self/ns/net", os.O_RDONLY)
HOST_NETNS = f"/proc/{os.getpid()}/fd/{_HOST_NETNS_FD}" if _HOST_NETNS_FD is not None else None
try:
    FENCED = netns.enter_private_network()
    NETNS_ERROR: str | None = None
except netns.NetnsUnavailable as _exc:
    FENCED, NETNS_ERROR = False, str(_exc)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("XROUTER_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only `../shared/data` folder; tests that need it skip with a reason when it is missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA} (set XROUTER_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ray_home() -> Path:
    """The HOME folder holding `ray_bootstrap_config.yaml` (already exported for the whole session)."""
    return _RAY_HOME


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A Ray test must not start Ray on the machine's network: fail it with the reason instead."""
    if NETNS_ERROR is not None and item.get_closest_marker("ray") is not None:
        pytest.fail(NETNS_ERROR, pytrace=False)
