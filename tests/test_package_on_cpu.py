"""Package-wide rules: only the verl plugin imports verl, and importing is cheap and side-effect free.

Run: .venv/bin/python -m pytest tests/test_package_on_cpu.py -q
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "xrouter"

_BLOCK_VERL_AND_IMPORT_ALL = r"""
import importlib, importlib.abc, pkgutil, sys

class _NoVerl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "verl" or name.startswith("verl."):
            raise ModuleNotFoundError(f"verl is blocked in this test ({name})")
        return None

sys.meta_path.insert(0, _NoVerl())
import xrouter
names = [m.name for m in pkgutil.walk_packages(xrouter.__path__, "xrouter.") if ".verl_plugin" not in m.name]
for name in names:
    importlib.import_module(name)
heavy = sorted(m for m in ("torch", "litellm", "ray", "transformers", "sentence_transformers") if m in sys.modules)
print(len(names), ",".join(heavy))
"""


def _module_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_verl_plugin_imports_verl():
    """No module outside xrouter/verl_plugin/ has an import of verl (even a lazy one)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "verl_plugin" in path.parts:
            continue
        if any(name == "verl" or name.startswith("verl.") for name in _module_imports(path)):
            offenders.append(str(path.relative_to(PACKAGE.parent)))
    assert offenders == []


def test_every_module_imports_without_verl_and_without_heavy_libraries():
    """With verl blocked, every non-plugin module imports, and none pulls torch/litellm/ray at import time."""
    done = subprocess.run(
        [sys.executable, "-c", _BLOCK_VERL_AND_IMPORT_ALL], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    count, heavy = done.stdout.strip().split(" ", 1) if " " in done.stdout.strip() else (done.stdout.strip(), "")
    assert int(count) > 50
    assert heavy == "", f"imported at import time: {heavy}"
