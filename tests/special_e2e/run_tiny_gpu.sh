#!/usr/bin/env bash
# GPU smoke test: two DAPO steps of a small router on one GPU with the replay provider (no API keys, $0).
# Not run in CI (needs a GPU and verl with SGLang: `pip install -e ".[gpu]"`, see REQUIRED_VERL.txt).
# Hardware: 1 GPU with >= 16 GB. Expected time (estimate): ~10 min including model load.
# Launch:  RB_CSV=data/routerbench_slices/winograde_train.csv bash tests/special_e2e/run_tiny_gpu.sh
# Passes when main_ppo finishes both steps and exits 0.
set -xeuo pipefail

# Everything here is replayed, so the whole run (replay server and Ray) lives in a private loopback-only network
# namespace: Ray would otherwise listen on every interface of the machine (XROUTER_RAY_NETNS=0 opts out).
if [ -z "${XROUTER_IN_LOOPBACK:-}" ]; then
    exec env XROUTER_IN_LOOPBACK=1 xrouter loopback -- bash "$0" "$@"
fi

MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-0.5B-Instruct}
RB_CSV=${RB_CSV:-data/routerbench_slices/winograde_train.csv}
WORK=${WORK:-$(mktemp -d)}
PORT=${PORT:-8100}
CONFIG_DIR=$(python3 -c 'import os, xrouter.config as c; print(os.path.dirname(c.__file__))')
RB_CATALOG=$(python3 -c 'import os, xrouter; print(os.path.join(os.path.dirname(xrouter.__file__), "resources", "routerbench_models.yaml"))')
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true TOKENIZERS_PARALLELISM=false

# ===== Ray without cloud-metadata probes (Ray offline rule): Ray's head reads ~/ray_bootstrap_config.yaml, so HOME
# moves to a folder whose file says `provider: local`; the Hugging Face cache and the wandb login stay where they were =====
export HF_HOME=${HF_HOME:-$HOME/.cache/huggingface}
export NETRC=${NETRC:-$HOME/.netrc}
RAY_HOME_DIR=${RAY_HOME_DIR:-$(mktemp -d)}
printf 'provider:\n  type: local\n' > "${RAY_HOME_DIR}/ray_bootstrap_config.yaml"
export HOME=${RAY_HOME_DIR} RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=disabled

# ===== data: RouterBench rows -> router training rows (query ids shared with the replay provider) =====
xrouter preprocess-source routerbench --input "${RB_CSV}" --out "${WORK}/src" --limit 16
xrouter preprocess --input-dir "${WORK}/src" --output-dir "${WORK}/rows" --num-repetitions 1 \
    --catalog "${RB_CATALOG}" --catalog-only
ROWS=$(ls "${WORK}"/rows/*.parquet | head -1)

# ===== replay provider on 127.0.0.1 + tools pointed at it =====
xrouter replay serve --data "${RB_CSV}" --port "${PORT}" &
REPLAY_PID=$!
trap 'kill ${REPLAY_PID}' EXIT
xrouter replay catalog --data "${RB_CSV}" --out "${WORK}/replay_catalog.yaml"
xrouter tools --models "$(python3 -c "import yaml; print(','.join(m['id'] for m in yaml.safe_load(open('${RB_CATALOG}'))['models']))")" \
    --format verl --catalog "${WORK}/replay_catalog.yaml" --out "${WORK}/tools.yaml"
export XROUTER_TOOL_BACKEND=replay
export XROUTER_TOOL_API_BASE=http://127.0.0.1:${PORT}/v1
export XROUTER_CATALOG=${WORK}/replay_catalog.yaml
sleep 5

python3 -m verl.trainer.main_ppo \
    --config-dir "${CONFIG_DIR}" \
    --config-name router_dapo_gpu \
    data.train_files="${ROWS}" \
    data.val_files="${ROWS}" \
    data.train_batch_size=4 \
    data.max_prompt_length=8192 \
    data.max_response_length=1024 \
    actor_rollout_ref.model.path="${MODEL_PATH}" \
    actor_rollout_ref.actor.ppo_mini_batch_size=4 \
    actor_rollout_ref.actor.optim.lr_warmup_steps=0 \
    actor_rollout_ref.actor.ppo_max_token_len_per_gpu=9216 \
    actor_rollout_ref.rollout.name=sglang \
    actor_rollout_ref.rollout.n=2 \
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.4 \
    actor_rollout_ref.rollout.multi_turn.tool_config_path="${WORK}/tools.yaml" \
    actor_rollout_ref.rollout.agent.num_workers=1 \
    reward.num_workers=1 \
    trainer.logger='["console"]' \
    trainer.val_before_train=False \
    trainer.n_gpus_per_node=1 \
    trainer.nnodes=1 \
    trainer.total_training_steps=2 \
    trainer.save_freq=-1 \
    trainer.test_freq=2 \
    trainer.default_local_dir="${WORK}/ckpt" \
    "$@"
