#!/usr/bin/env bash
# Small DAPO run of a Qwen2.5-0.5B-Instruct router on one GPU (debugging the pipeline, λ sweeps on replay data).
# Hardware: 1 x 24 GB GPU (RTX 4090 / L4 / A10) or larger, verl 0.9.1 with SGLang (see REQUIRED_VERL.txt).
# Expected time (estimate; no GPU run was possible while writing this): ~3-5 min per step at 32 prompts x 4 rollouts with the replay provider; 100 steps ~ 6-8 h.
# Launch:  REPLAY_DATA=<outcome files> XROUTER_CATALOG=$DATA_DIR/replay_catalog.yaml \
#          bash train/run_xrouter_qwen2.5_0.5b_1gpu.sh
#   (the script starts the replay provider on 127.0.0.1:8100 itself, inside the run's loopback namespace)
set -xeuo pipefail

# ===== paths =====
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-0.5B-Instruct}
DATA_DIR=${DATA_DIR:-$HOME/data/xrouter}
TRAIN_FILES=${TRAIN_FILES:-"['${DATA_DIR}/train.parquet']"}
VAL_FILES=${VAL_FILES:-"['${DATA_DIR}/val.parquet']"}
TOOL_CONFIG=${TOOL_CONFIG:-${DATA_DIR}/tools.yaml}
CKPTS_DIR=${CKPTS_DIR:-$HOME/ckpts/xrouter/qwen2.5-0.5b}
CONFIG_DIR=${CONFIG_DIR:-$(python3 -c 'import os, xrouter.config as c; print(os.path.dirname(c.__file__))')}

# ===== target-model backend of the tools (live | cache | replay) =====
export XROUTER_TOOL_BACKEND=${XROUTER_TOOL_BACKEND:-replay}
export XROUTER_TOOL_API_BASE=${XROUTER_TOOL_API_BASE:-http://127.0.0.1:8100/v1}
if [ ! -f "${TOOL_CONFIG}" ]; then
    xrouter tools --models "$(python3 -c 'from xrouter.catalog import load_catalog; print(",".join(load_catalog().ids()))')" \
        --format verl --out "${TOOL_CONFIG}"
fi

# ===== network: Ray listens on every interface of the machine it runs on. Replayed targets need no network, so the
# whole run moves into a private loopback-only network namespace (`xrouter loopback`; XROUTER_RAY_NETNS=0 opts out);
# live or cached targets need the provider APIs, so Ray stays on the node's interfaces with token authentication on =====
if [ "${XROUTER_TOOL_BACKEND}" = replay ] && [ -z "${XROUTER_IN_LOOPBACK:-}" ]; then
    exec env XROUTER_IN_LOOPBACK=1 xrouter loopback -- bash "$0" "$@"
fi

if [ "${XROUTER_TOOL_BACKEND}" = replay ] && [ -n "${REPLAY_DATA:-}" ]; then
    xrouter replay serve --data "${REPLAY_DATA}" --port 8100 &
    REPLAY_PID=$!
    trap 'kill ${REPLAY_PID}' EXIT
    sleep 5
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

# ===== reward =====
cost_lambda=${COST_LAMBDA:-3.0}

# ===== algorithm =====
n_resp=4
train_prompt_bsz=32
ppo_mini_bsz=16
max_prompt_length=8192
max_response_length=4096

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
    actor_rollout_ref.actor.ppo_mini_batch_size=${ppo_mini_bsz} \
    actor_rollout_ref.actor.ppo_max_token_len_per_gpu=$((max_prompt_length + max_response_length)) \
    actor_rollout_ref.rollout.name=sglang \
    actor_rollout_ref.rollout.n=${n_resp} \
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.5 \
    actor_rollout_ref.rollout.multi_turn.tool_config_path="${TOOL_CONFIG}" \
    actor_rollout_ref.rollout.agent.num_workers=2 \
    reward.num_workers=2 \
    trainer.logger='["console","tensorboard"]' \
    trainer.experiment_name=qwen2.5-0.5b-lambda${cost_lambda} \
    trainer.n_gpus_per_node=1 \
    trainer.nnodes=1 \
    trainer.total_training_steps=100 \
    trainer.save_freq=50 \
    trainer.test_freq=10 \
    trainer.default_local_dir="${CKPTS_DIR}" \
    "$@"
