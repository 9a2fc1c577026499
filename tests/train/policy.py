"""Test helpers: a small routing workspace from RouterBench data and a tiny policy overfitted on its traces.

The policy is trained in-process with plain PyTorch (a few seconds), loss on the assistant tokens only,
so the end-to-end tests start RL from a policy that writes valid tool calls, as a warm start would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

RB_FILE = "routerbench_slices/winograde_train.csv"
CHEAP, STRONG = "mistralai/mistral-7b-chat", "gpt-4-1106-preview"
POOL = (STRONG, CHEAP)


def disagreeing_slice(shared_data: Path, out: Path, count: int = 8) -> Path:
    """A RouterBench CSV of queries the strong model answers right and the cheap one wrong (fit split only)."""
    from xrouter.eval.split import in_split

    frame = pd.read_csv(shared_data / RB_FILE)
    mask = (frame[STRONG] == 1.0) & (frame[CHEAP] == 0.0)
    mask &= frame["sample_id"].map(lambda q: in_split(str(q), "fit", holdout=0.3, seed=0))
    frame[mask].head(count).to_csv(out, index=False)
    return out


def conversation_ids(tokenizer, messages: list[dict], tools: list[dict]) -> tuple[list[int], int]:
    """Token ids of a whole trace and where the last assistant turn starts."""
    prompt = tokenizer.apply_chat_template(messages[:-1], tools=tools, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
    assert full.startswith(prompt)
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    start = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert ids[:start] == tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return ids, start


def overfit(folder: Path, traces: Path, steps: int = 120, lr: float = 3e-3, seed: int = 0) -> Path:
    """Train the model in `folder` on the last assistant turn of every trace; save it in place."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    frame = pd.read_parquet(traces)
    examples = [
        conversation_ids(tokenizer, json.loads(m), json.loads(t))
        for m, t in zip(frame.messages, frame.tools, strict=False)
    ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        ids, start = examples[step % len(examples)]
        x = torch.tensor([ids])
        labels = x.clone()
        labels[0, :start] = -100
        loss = model(input_ids=x, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(folder)
    return folder
