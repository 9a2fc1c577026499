"""`make demo`: the offline main job (placeholder pipeline until the benchmark lands).

Lists the catalog and writes the tool schemas for fixed set 1 to outputs/demo/.
"""

from __future__ import annotations

import sys

from xrouter.cli.main import main

if __name__ == "__main__":
    code = main(["models"]) or main(["tools", "--fixed-set", "1", "--format", "verl", "--out", "outputs/demo/tools.yaml"])
    print("wrote outputs/demo/tools.yaml")
    sys.exit(code)
