"""Test-wide setup: every test runs offline and any Ray cluster started by a test stays local.

Run everything with `make test`. The environment below is applied at import, before any test
module imports litellm, transformers or ray.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

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

# Ray's dashboard probes cloud metadata addresses unless HOME holds this file.
_RAY_HOME = Path(tempfile.mkdtemp(prefix="xrouter-test-home-"))
(_RAY_HOME / "ray_bootstrap_config.yaml").write_text("provider:\n  type: local\n")
os.environ["HOME"] = str(_RAY_HOME)

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
