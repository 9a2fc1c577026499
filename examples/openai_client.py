"""Call the xrouter API with the stock openai SDK and read `router_metadata`.

Start a server first (e.g. `evaluation/serve_router.sh`), then:

    .venv/bin/python examples/openai_client.py "What is the capital of Australia?"
    .venv/bin/python examples/openai_client.py --stream --max-cost-usd 0.01 "Prove that sqrt(2) is irrational."
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from openai import APIError, OpenAI


def main() -> int:
    """Send one question and print the answer, then the routing metadata."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("question", help="the user message to send")
    parser.add_argument("--url", default="http://127.0.0.1:8800/v1", help="server base URL (default %(default)s)")
    parser.add_argument(
        "--api-key", default=os.environ.get("XROUTER_API_KEY", "none"), help="bearer key ($XROUTER_API_KEY)"
    )
    parser.add_argument("--system", help="optional system prompt (kept for the router and every target model)")
    parser.add_argument("--stream", action="store_true", help="stream the answer (metadata arrives in the last chunk)")
    parser.add_argument("--max-cost-usd", type=float, help="per-request budget (xrouter extension field)")
    args = parser.parse_args()

    client = OpenAI(base_url=args.url, api_key=args.api_key)
    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": args.question})
    extra = {"max_cost_usd": args.max_cost_usd} if args.max_cost_usd is not None else None

    metadata = None
    try:
        if args.stream:
            stream = client.chat.completions.create(model="router", messages=messages, stream=True, extra_body=extra)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    print(chunk.choices[0].delta.content, end="", flush=True)
                # the last chunk before [DONE] carries the routing metadata
                metadata = (chunk.model_extra or {}).get("router_metadata", metadata)
            print()
        else:
            completion = client.chat.completions.create(model="router", messages=messages, extra_body=extra)
            print(completion.choices[0].message.content)
            metadata = (completion.model_extra or {}).get("router_metadata")
    except APIError as exc:  # connection refused, 4xx/5xx: one line, not a traceback
        print(f"request failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    if metadata is None:
        print("the server sent no router_metadata (is it an xrouter server?)", file=sys.stderr)
        return 1
    keys = ("routing_strategy", "model_used", "models_called", "turns_used", "total_cost", "router_cost")
    print(json.dumps({k: metadata.get(k) for k in keys}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
