#!/usr/bin/env bash
# Serve a trained xrouter checkpoint behind an OpenAI-compatible endpoint with tool calling (GPU node).
#
#   evaluation/host_router.sh vllm   CKPT_DIR [PORT]   # vLLM, hermes tool parser
#   evaluation/host_router.sh sglang CKPT_DIR [PORT]   # SGLang, qwen25 parser (the same hermes <tool_call> format)
#
# CKPT_DIR is a Hugging Face folder, e.g. checkpoints/<run>/global_step_N/actor/huggingface.
# Environment: ROUTER_NAME (served model name, default xrouter-7b), TP (tensor parallel, default 1),
# MAX_LEN (context, default 32768), HOST (default 127.0.0.1), GPU_UTIL (vLLM, default 0.85).
# Then point the router API at it:  evaluation/serve_router.sh  (ROUTER_API_BASE=http://HOST:PORT/v1)
set -euo pipefail

engine="${1:?usage: host_router.sh vllm|sglang CKPT_DIR [PORT]}"
ckpt="${2:?usage: host_router.sh vllm|sglang CKPT_DIR [PORT]}"
port="${3:-8001}"
name="${ROUTER_NAME:-xrouter-7b}"
tp="${TP:-1}"
max_len="${MAX_LEN:-32768}"
host="${HOST:-127.0.0.1}"

case "$engine" in
  vllm)
    # --enable-auto-tool-choice + --tool-call-parser hermes turn the router's <tool_call> blocks into
    # OpenAI tool_calls, which is what `xrouter serve` expects (it also parses raw blocks as a fallback).
    exec vllm serve "$ckpt" \
      --served-model-name "$name" \
      --host "$host" --port "$port" \
      --max-model-len "$max_len" \
      --tensor-parallel-size "$tp" \
      --gpu-memory-utilization "${GPU_UTIL:-0.85}" \
      --enable-auto-tool-choice \
      --tool-call-parser hermes
    ;;
  sglang)
    exec python -m sglang.launch_server \
      --model-path "$ckpt" \
      --served-model-name "$name" \
      --host "$host" --port "$port" \
      --context-length "$max_len" \
      --tp-size "$tp" \
      --tool-call-parser qwen25
    ;;
  *)
    echo "unknown engine '$engine': use vllm or sglang" >&2
    exit 2
    ;;
esac
