#!/usr/bin/env bash
# DAPO training of a Qwen2.5-7B-Instruct router on an existing multi-node Ray cluster (job submission).
# Hardware: NNODES nodes x 8 x 80 GB GPUs with a shared filesystem for data and checkpoints.
# Expected time (estimate; no GPU run was possible while writing this): step time scales down roughly with the node count (~15-20 min per 512x4 step on 4 nodes).
# Cluster first (every node needs xrouter[gpu] installed, see REQUIRED_VERL.txt). Start Ray on every node with the
# Ray offline rule (HOME at a folder holding ray_bootstrap_config.yaml = `provider: {type: local}`, usage stats off),
# or Ray's head probes cloud-metadata addresses:
# A multi-node cluster must listen on the nodes' own interfaces (a loopback namespace cannot span machines), so
# Ray's token authentication is on: only processes holding the cluster's token can join it or run code on it.
# Write one token on the shared filesystem first:
#   python3 -c 'import secrets; print(secrets.token_hex(32))' > /shared/ray_auth_token && chmod 600 /shared/ray_auth_token
#   every node: export HF_HOME=${HF_HOME:-$HOME/.cache/huggingface} NETRC=${NETRC:-$HOME/.netrc}
#               export HOME=$(mktemp -d) RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=/shared/ray_auth_token
#               printf 'provider:\n  type: local\n' > "$HOME/ray_bootstrap_config.yaml"
#   head:    ray start --head --port=6379 --dashboard-host=127.0.0.1
#   workers: ray start --address=<head-ip>:6379
# Launch (on the head):  NNODES=4 DATA_DIR=/shared/xrouter bash train/run_xrouter_multinode.sh [overrides]
set -xeuo pipefail

# ===== cluster / paths =====
RAY_ADDRESS=${RAY_ADDRESS:-http://127.0.0.1:8265}
NNODES=${NNODES:-2}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-7B-Instruct}
DATA_DIR=${DATA_DIR:-/shared/data/xrouter}
TRAIN_FILES=${TRAIN_FILES:-"['${DATA_DIR}/train.parquet']"}
VAL_FILES=${VAL_FILES:-"['${DATA_DIR}/val.parquet']"}
TOOL_CONFIG=${TOOL_CONFIG:-${DATA_DIR}/tools.yaml}
CKPTS_DIR=${CKPTS_DIR:-/shared/ckpts/xrouter/qwen2.5-7b-${NNODES}nodes}
CONFIG_DIR=${CONFIG_DIR:-$(python3 -c 'import os, xrouter.config as c; print(os.path.dirname(c.__file__))')}

# ===== target-model backend of the tools: passed to every Ray worker through the job's runtime env =====
# (replay: tools call XROUTER_TOOL_API_BASE from every node, so run `xrouter replay serve` on each node's 127.0.0.1)
TOOL_BACKEND=${XROUTER_TOOL_BACKEND:-live}
TOOL_API_BASE=${XROUTER_TOOL_API_BASE:-}
TOOL_CATALOG=${XROUTER_CATALOG:-}
TOOL_CACHE=${XROUTER_CACHE_PATH:-}
# the job client authenticates with the cluster's token (see the header)
export RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=${RAY_AUTH_TOKEN_PATH:-/shared/ray_auth_token}
RUNTIME_ENV=$(printf '{"env_vars": {"XROUTER_TOOL_BACKEND": "%s", "XROUTER_TOOL_API_BASE": "%s", "XROUTER_CATALOG": "%s", "XROUTER_CACHE_PATH": "%s", "TOKENIZERS_PARALLELISM": "false", "RAY_USAGE_STATS_ENABLED": "0"}}' \
    "${TOOL_BACKEND}" "${TOOL_API_BASE}" "${TOOL_CATALOG}" "${TOOL_CACHE}")
if [ ! -f "${TOOL_CONFIG}" ]; then
    xrouter tools --models "$(python3 -c 'from xrouter.catalog import load_catalog; print(",".join(load_catalog().ids()))')" \
        --format verl --out "${TOOL_CONFIG}"
fi

# ===== reward =====
cost_lambda=${COST_LAMBDA:-3.0}

# ===== algorithm =====
n_resp=4
train_prompt_bsz=512
ppo_mini_bsz=128
max_prompt_length=16384
max_response_length=8192

ray job submit --address="${RAY_ADDRESS}" --runtime-env-json="${RUNTIME_ENV}" --no-wait -- \
    python3 -m verl.trainer.main_ppo \
    --config-dir "${CONFIG_DIR}" \
    --config-name router_dapo_gpu \
    data.train_files="${TRAIN_FILES}" \
    data.val_files="${VAL_FILES}" \
    data.train_batch_size=${train_prompt_bsz} \
    data.max_prompt_length=${max_prompt_length} \
    data.max_response_length=${max_response_length} \
    xrouter.cost_lambda=${cost_lambda} \
    actor_rollout_ref.model.path="${MODEL_PATH}" \
    actor_rollout_ref.model.enable_gradient_checkpointing=True \
    actor_rollout_ref.actor.ppo_mini_batch_size=${ppo_mini_bsz} \
    actor_rollout_ref.actor.ppo_max_token_len_per_gpu=$((max_prompt_length + max_response_length)) \
    actor_rollout_ref.actor.fsdp_config.param_offload=True \
    actor_rollout_ref.actor.fsdp_config.optimizer_offload=True \
    actor_rollout_ref.rollout.name=sglang \
    actor_rollout_ref.rollout.n=${n_resp} \
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.7 \
    actor_rollout_ref.rollout.max_model_len=32768 \
    actor_rollout_ref.rollout.multi_turn.tool_config_path="${TOOL_CONFIG}" \
    trainer.logger='["console","wandb"]' \
    trainer.experiment_name=qwen2.5-7b-${NNODES}nodes-lambda${cost_lambda} \
    trainer.n_gpus_per_node=${GPUS_PER_NODE} \
    trainer.nnodes=${NNODES} \
    trainer.total_epochs=2 \
    trainer.save_freq=10 \
    trainer.test_freq=5 \
    trainer.default_local_dir="${CKPTS_DIR}" \
    "$@"
