# xrouter developer commands. `make demo` and `make test` set up .venv on first use.
# TORCH_SPEC pins the CPU torch wheel first so nothing can pull a multi-GB CUDA build.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.xrouter-installed
OFFLINE := LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
	RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=disabled VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 TOKENIZERS_PARALLELISM=false
PYTEST_ARGS ?=

.PHONY: install demo test train-cpu lint format docs docs-serve clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]" "$(TORCH_SPEC)"
	@# litellm 1.82.7/1.82.8 shipped a credential-stealing .pth file: refuse any unexpected .pth
	@bad=$$(find $(VENV) -name '*.pth' ! -name distutils-precedence.pth ! -name '__editable__*'); \
	  if [ -n "$$bad" ]; then echo "unexpected .pth files in $(VENV): $$bad"; exit 1; fi
	touch $(STAMP)

install: $(STAMP)  ## create .venv with every CPU-side extra

demo: $(STAMP)  ## run the main job offline (replay + learned router + benchmark)
	$(OFFLINE) $(BIN)/python scripts/demo.py

test: $(STAMP)  ## ruff + the whole CPU test suite (which builds the docs with --strict)
	$(BIN)/ruff check .
	$(OFFLINE) $(BIN)/python -m pytest -q $(PYTEST_ARGS)

TRAIN_CPU_ARGS ?=
train-cpu: $(STAMP)  ## the CPU learning run: rows -> warm start -> DAPO on replayed outcomes -> merged router -> benchmark
	$(OFFLINE) $(BIN)/python scripts/bench_train_cpu.py $(TRAIN_CPU_ARGS)

docs: $(STAMP)  ## build the docs site into site/ (warnings are errors)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(STAMP)  ## serve the docs with live reload on http://127.0.0.1:8000
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) outputs site .pytest_cache
