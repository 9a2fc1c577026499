"""A scripted stand-in for verl's LLM server, for CPU integration tests and the rollout benchmark.

verl's agent loops talk to the policy through `server_manager.generate(request_id, prompt_ids=...,
sampling_params=...) -> TokenOutput` (token ids in, token ids out). `ScriptedPolicyServer` answers
from a script instead of a model: the scenario is the first script key found in the decoded prompt,
the turn is the number of assistant turns already in the prompt, and the reply is that turn's text
tokenized and terminated with the tokenizer's EOS token. In a reply, `{tool0}`, `{tool1}`, ... name the
call tools offered in the prompt's tool list (in order) and `{tool_last}` the last one, so one script
fits rows with different model pools. It is picklable (the tokenizer loads lazily
from a folder), so it can be handed to Ray `AgentLoopWorker`s.

    server = ScriptedPolicyServer(tokenizer_dir, {"capital of France": [call("call_strong_c"), select("call_strong_c")]})

`build_tiny_policy_model(folder)` writes the matching offline policy folder: a byte-level BPE tokenizer
trained on the spot, with a Qwen2.5-style hermes chat template, and a random 2-layer Llama whose
config verl's workers load (no weights are ever run).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ASSISTANT_MARK = "<|im_start|>assistant"
_OFFERED = re.compile(r'"name": "(call_[a-z0-9_]+)"')


def tool_call_text(name: str, **arguments: Any) -> str:
    """One hermes-format tool call, as a Qwen2.5-style policy writes it."""
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def call(name: str, prompt: str = "Answer in one short sentence.", **arguments: Any) -> str:
    """A `call_<model>` tool call with an optimized_system_prompt."""
    return tool_call_text(name, optimized_system_prompt=prompt, **arguments)


def select(name: str) -> str:
    """A `select_response` tool call naming an earlier call."""
    return tool_call_text("select_response", model_call_name=name)


class ScriptedPolicyServer:
    """Token-level scripted policy: `scripts` maps a prompt substring to the texts of successive turns."""

    def __init__(self, tokenizer_path: str, scripts: Mapping[str, Sequence[str]], default: Sequence[str] = ()):
        self.tokenizer_path = str(tokenizer_path)
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.default = list(default) or ["I cannot help with that."]
        self._tokenizer: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokenizer": None}

    @property
    def tokenizer(self) -> Any:
        """The policy tokenizer (loaded on first use, also after unpickling in a Ray worker)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path)
        return self._tokenizer

    def reply(self, prompt_text: str) -> str:
        """The scripted text for the next turn of the conversation in `prompt_text`."""
        script = next((s for key, s in self.scripts.items() if key in prompt_text), self.default)
        turn = max(prompt_text.count(ASSISTANT_MARK) - 1, 0)
        text = script[min(turn, len(script) - 1)]
        offered = list(dict.fromkeys(_OFFERED.findall(prompt_text.split("</tools>")[0])))
        if offered:
            names = {f"{{tool{i}}}": name for i, name in enumerate(offered)} | {"{tool_last}": offered[-1]}
            for placeholder, name in names.items():
                text = text.replace(placeholder, name)
        return text

    async def generate(self, request_id: str, *, prompt_ids: list[int], sampling_params: dict[str, Any], **kwargs: Any):
        """verl's server call: decode the prompt, pick the scripted reply, return its token ids."""
        from verl.workers.rollout.replica import TokenOutput

        tok = self.tokenizer
        text = self.reply(tok.decode(prompt_ids)) + tok.eos_token
        ids = tok.encode(text, add_special_tokens=False)
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids), extra_fields={"global_steps": 0})


def build_tiny_policy_model(folder: str | Path) -> Path:
    """A 2-layer random Llama with a 700-token BPE trained on routing text (offline, ~2 s)."""
    from xrouter.train.models import TINY, build_policy_model

    corpus = [
        "You are a routing assistant. USER REQUEST: What is 2+3? The answer is 5. Paris is the capital.",
        '<tool_call>\n{"name": "call_cheap_a", "arguments": {"optimized_system_prompt": "Answer briefly."}}',
        'select_response {"model_call_name": "call_strong_c"} <tool_response> [error] not run',
        "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ {}[]():;,.\"'<>/|_-+=*#\n",
    ] * 20
    return build_policy_model(folder, corpus, TINY)


def replay_rollout_workspace(work: Path, data: Path, prompts: int) -> dict[str, Any]:
    """Offline rollout inputs from one RouterBench CSV: training rows, a running replay server, tool YAML.

    Runs `xrouter preprocess-source routerbench` (first `prompts` queries) and `xrouter preprocess` with the
    replay catalog, starts the replay provider on 127.0.0.1, and writes the verl tool config with every
    tool pointed at it (`backend: replay`). Returns `rows` (parquet paths), `tools`, `catalog` and `server`
    (call `server.stop()` when done). Used by the CPU integration tests and the rollout benchmark.
    """
    import yaml

    from xrouter.catalog.catalog import shipped_catalog_text
    from xrouter.cli.main import main as xrouter
    from xrouter.data.outcomes import load_outcomes
    from xrouter.llm.replay import ReplayStore, create_replay_app
    from xrouter.serve.background import BackgroundServer

    rb_catalog = work / "routerbench_models.yaml"
    rb_catalog.write_text(shipped_catalog_text("routerbench_models.yaml"))
    replay_catalog = work / "replay_catalog.yaml"
    steps = [
        ["preprocess-source", "routerbench", "--input", str(data), "--out", str(work / "src"), "--limit", str(prompts)],
        ["preprocess", "--input-dir", str(work / "src"), "--output-dir", str(work / "rows"), "--num-repetitions", "1",
         "--catalog", str(rb_catalog), "--catalog-only", "--workers", "1"],
        ["replay", "catalog", "--data", str(data), "--out", str(replay_catalog)],
    ]  # fmt: skip
    ids = [m["id"] for m in yaml.safe_load(rb_catalog.read_text())["models"]]
    tools = work / "tools.yaml"
    steps.append(["tools", "--models", ",".join(ids), "--format", "verl", "--catalog", str(replay_catalog),
                  "--out", str(tools)])  # fmt: skip
    for argv in steps:
        if xrouter(argv) != 0:
            raise RuntimeError(f"`xrouter {' '.join(argv)}` failed")
    server = BackgroundServer(create_replay_app(ReplayStore(load_outcomes(data)))).start()
    spec = yaml.safe_load(tools.read_text())
    for entry in spec["tools"]:
        entry["config"].update({"backend": "replay", "api_base": f"{server.url}/v1", "catalog": str(replay_catalog)})
    tools.write_text(yaml.safe_dump(spec, sort_keys=False))
    return {
        "rows": sorted((work / "rows").glob("*.parquet")),
        "tools": tools,
        "catalog": replay_catalog,
        "server": server,
    }


def replay_rollout_overrides(rows: Path, tools: Path, model: Path, n: int) -> list[str]:
    """`router_dapo` overrides for a scripted-policy rollout over `replay_rollout_workspace` inputs on 2 cores."""
    return [
        f"data.train_files={rows}",
        f"data.val_files={rows}",
        "data.max_prompt_length=16384",
        "data.max_response_length=4096",
        f"actor_rollout_ref.model.path={model}",
        "actor_rollout_ref.rollout.name=vllm",  # replaced by the scripted server; the name only selects the config
        f"actor_rollout_ref.rollout.n={n}",
        f"actor_rollout_ref.rollout.multi_turn.tool_config_path={tools}",
        "actor_rollout_ref.rollout.agent.num_workers=1",
        "reward.num_workers=1",
    ]
