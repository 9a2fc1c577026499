#!/usr/bin/env bash
# Start the xrouter API server (OpenAI-compatible, with router_metadata) in front of a hosted router.
#
#   evaluation/serve_router.sh                       # live targets (needs provider API keys)
#   REPLAY_DATA=data/routerbench_slices \
#   MODELS=gpt-4-1106-preview,mistralai/mistral-7b-chat evaluation/serve_router.sh   # offline, replayed targets
#
# Environment (defaults in brackets): ROUTER_NAME [xrouter-7b], ROUTER_API_BASE [http://127.0.0.1:8001/v1],
# ROUTER_PRICE_IN / ROUTER_PRICE_OUT [0.04 / 0.10 USD per 1M tokens], MODELS (comma list; default: the catalog's fixed set FIXED_SET [1]),
# MODE [agent], MAX_TURNS [3], PORT [8800], HOST [127.0.0.1], REPLAY_DATA (optional), XROUTER_API_KEY (optional).
# Extra arguments are passed to `xrouter serve` (see `xrouter serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-.venv/bin/python}"
args=(
  serve
  --router-model "${ROUTER_NAME:-xrouter-7b}"
  --router-api-base "${ROUTER_API_BASE:-http://127.0.0.1:8001/v1}"
  --router-price-in "${ROUTER_PRICE_IN:-0.04}"
  --router-price-out "${ROUTER_PRICE_OUT:-0.10}"
  --mode "${MODE:-agent}"
  --max-turns "${MAX_TURNS:-3}"
  --host "${HOST:-127.0.0.1}"
  --port "${PORT:-8800}"
)
if [[ -n "${MODELS:-}" ]]; then
  args+=(--models "$MODELS")
else
  args+=(--fixed-set "${FIXED_SET:-1}")
fi
if [[ -n "${REPLAY_DATA:-}" ]]; then
  args+=(--replay-data "$REPLAY_DATA")
fi
exec "$python" -m xrouter.cli.main "${args[@]}" "$@"
