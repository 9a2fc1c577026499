#!/usr/bin/env bash
# DAPO training of a Qwen2.5-7B-Instruct router on one node.
# Hardware: 1 node, 8 x 80 GB GPUs (A100/H100), ~1 TB host RAM for FSDP offload, verl 0.9.1 with SGLang
#   (`pip install "xrouter[gpu]"`, see REQUIRED_VERL.txt).
# Expected time (estimate; no GPU run was possible while writing this): ~40-60 min per step at 512 prompts x 4 rollouts (target-API latency dominates with live
#   tools; with the replay provider the rollout is GPU-bound); 2 epochs of 20k prompts ~ 3-4 days.
# Launch:  DATA_DIR=~/data/xrouter bash train/run_xrouter_qwen2.5_7b_8gpu.sh [extra hydra overrides]
# Hyperparameters follow the upstream xRouter recipe (lr 1e-6 with 10 warm-up steps, weight decay 0.1, grad clip 1,
#   clip 0.2/0.28, token-mean, no KL, n=4, batch 512, mini-batch 128, prompt/response 16384/8192, max_model_len 32768,
#   FSDP param+optimizer offload, rollout TP 1 at 0.7 GPU memory, λ=3, K=1, cost_max=0.8, max 3 turns).
#   Deliberate differences: 2 epochs (the upstream README; its example script said 5), a checkpoint every 10 steps
#   (not every step), validation before training, DAPO on `acc` = answer quality (the upstream overwrote acc with the
#   shaped reward; use algorithm.filter_groups.metric=score for that), and verl 0.9.1's async rollout.
set -xeuo pipefail

# ===== paths =====
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-7B-Instruct}
DATA_DIR=${DATA_DIR:-$HOME/data/xrouter}
TRAIN_FILES=${TRAIN_FILES:-"['${DATA_DIR}/train.parquet']"}
VAL_FILES=${VAL_FILES:-"['${DATA_DIR}/val.parquet']"}
TOOL_CONFIG=${TOOL_CONFIG:-${DATA_DIR}/tools.yaml}
CKPTS_DIR=${CKPTS_DIR:-$HOME/ckpts/xrouter/qwen2.5-7b-lambda3}
CONFIG_DIR=${CONFIG_DIR:-$(python3 -c 'import os, xrouter.config as c; print(os.path.dirname(c.__file__))')}

# ===== target-model backend of the tools (live | cache | replay), read by every rollout worker =====
export XROUTER_TOOL_BACKEND=${XROUTER_TOOL_BACKEND:-live}
export XROUTER_TOOL_API_BASE=${XROUTER_TOOL_API_BASE:-}
export XROUTER_CACHE_PATH=${XROUTER_CACHE_PATH:-${DATA_DIR}/response_cache.sqlite}
if [ ! -f "${TOOL_CONFIG}" ]; then
    # every model a row's pool can name must have a tool: write them all from the catalog
    xrouter tools --models "$(python3 -c 'from xrouter.catalog import load_catalog; print(",".join(load_catalog().ids()))')" \
        --format verl --out "${TOOL_CONFIG}"
fi

# ===== network: Ray listens on every interface of the machine it runs on. Replayed targets need no network, so the
# whole run moves into a private loopback-only network namespace (`xrouter loopback`; XROUTER_RAY_NETNS=0 opts out);
# live or cached targets need the provider APIs, so Ray stays on the node's interfaces with token authentication on =====
if [ "${XROUTER_TOOL_BACKEND}" = replay ] && [ -z "${XROUTER_IN_LOOPBACK:-}" ]; then
    exec env XROUTER_IN_LOOPBACK=1 xrouter loopback -- bash "$0" "$@"
fi

# ===== Ray without cloud-metadata probes (Ray offline rule): Ray's head reads ~/ray_bootstrap_config.yaml, so HOME
# moves to a folder whose file says `provider: local`; the Hugging Face cache and the wandb login stay where they were =====
export HF_HOME=${HF_HOME:-$HOME/.cache/huggingface}
export NETRC=${NETRC:-$HOME/.netrc}
RAY_HOME_DIR=${RAY_HOME_DIR:-$(mktemp -d)}
printf 'provider:\n  type: local\n' > "${RAY_HOME_DIR}/ray_bootstrap_config.yaml"
export HOME=${RAY_HOME_DIR} RAY_USAGE_STATS_ENABLED=0
# inside the namespace nobody else can reach Ray; on the node's interfaces only token holders may
if [ -n "${XROUTER_IN_LOOPBACK:-}" ]; then export RAY_AUTH_MODE=disabled; else export RAY_AUTH_MODE=token; fi

# ===== reward (one xrouter block; reaches training and validation rewards) =====
cost_lambda=${COST_LAMBDA:-3.0}
reward_k=1.0
cost_max=0.8

# ===== algorithm =====
n_resp=4
train_prompt_bsz=512
ppo_mini_bsz=128
max_prompt_length=16384
max_response_length=8192

# ===== performance =====
gpus=8
actor_max_tokens=$((max_prompt_length + max_response_length))

python3 -m verl.trainer.main_ppo \
    --config-dir "${CONFIG_DIR}" \
    --config-name router_dapo_gpu \
    data.train_files="${TRAIN_FILES}" \
    data.val_files="${VAL_FILES}" \
    data.train_batch_size=${train_prompt_bsz} \
    data.max_prompt_length=${max_prompt_length} \
    data.max_response_length=${max_response_length} \
    xrouter.cost_lambda=${cost_lambda} \
    xrouter.reward_K=${reward_k} \
    xrouter.cost_max=${cost_max} \
    xrouter.max_turns=3 \
    actor_rollout_ref.model.path="${MODEL_PATH}" \
    actor_rollout_ref.model.enable_gradient_checkpointing=True \
    actor_rollout_ref.actor.ppo_mini_batch_size=${ppo_mini_bsz} \
    actor_rollout_ref.actor.ppo_max_token_len_per_gpu=${actor_max_tokens} \
    actor_rollout_ref.actor.fsdp_config.param_offload=True \
    actor_rollout_ref.actor.fsdp_config.optimizer_offload=True \
    actor_rollout_ref.rollout.name=sglang \
    actor_rollout_ref.rollout.n=${n_resp} \
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.7 \
    actor_rollout_ref.rollout.max_model_len=32768 \
    actor_rollout_ref.rollout.max_num_batched_tokens=${actor_max_tokens} \
    actor_rollout_ref.rollout.multi_turn.tool_config_path="${TOOL_CONFIG}" \
    trainer.logger='["console","wandb"]' \
    trainer.project_name=xrouter \
    trainer.experiment_name=qwen2.5-7b-lambda${cost_lambda} \
    trainer.n_gpus_per_node=${gpus} \
    trainer.nnodes=1 \
    trainer.total_epochs=2 \
    trainer.save_freq=10 \
    trainer.test_freq=5 \
    trainer.default_local_dir="${CKPTS_DIR}" \
    trainer.rollout_data_dir="${CKPTS_DIR}/rollouts" \
    "$@"
