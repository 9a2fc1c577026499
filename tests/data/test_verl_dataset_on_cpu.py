"""The preprocessed parquet is what verl 0.9.1 reads: load it through `RLHFDataset` on CPU."""

from __future__ import annotations

import pytest

from xrouter.data.rows import decode_tools_kwargs


def test_rlhf_dataset_reads_the_rows_and_lifts_tools_kwargs(cli, guru_dir, tmp_path, tiny_tokenizer):
    """RLHFDataset keeps every row, exposes raw_prompt, index, agent_name and the row's tools_kwargs."""
    pytest.importorskip("verl")
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    from xrouter.verl_plugin.episode import episode_from_row

    out = tmp_path / "train"
    assert cli("preprocess", "--input-dir", guru_dir, "--output-dir", out, "--max-num-samples", "6")[0] == 0
    config = OmegaConf.create(
        {
            "prompt_key": "prompt",
            "max_prompt_length": 100_000,
            "filter_overlong_prompts": True,
            "filter_overlong_prompts_workers": 1,
            "cache_dir": str(tmp_path / "verl_cache"),
        }
    )
    dataset = RLHFDataset([str(out / "toy_6.parquet")], AutoTokenizer.from_pretrained(tiny_tokenizer), config)
    assert len(dataset) == 6
    for i in range(6):
        item = dataset[i]
        extra = item["extra_info"]
        assert item["index"] == extra["index"] == i
        assert item["agent_name"] == "xrouter_agent"
        assert item["raw_prompt"] == item["prompt"] and item["raw_prompt"][0]["role"] == "system"
        tools = decode_tools_kwargs(item["tools_kwargs"])
        assert sorted(tools) == sorted([*extra["tool_selection"], "select_response"])
        assert [tools[t]["create_kwargs"]["model_id"] for t in extra["tool_selection"]] == extra["model_pool"]
        assert tools["select_response"] == {"create_kwargs": {}}
        # verl's ToolAgentLoop keeps only tool_selection's tools and then reads
        # tools_kwargs[name]["create_kwargs"]: that lookup must work for every offered tool as stored.
        for name in [*extra["tool_selection"], "select_response"]:
            assert isinstance(item["tools_kwargs"][name].get("create_kwargs", {}), dict)
        outside = {k for k, v in item["tools_kwargs"].items() if v is None}
        assert outside and not outside & set(extra["tool_selection"])  # None only for tools outside the pool
        episode = episode_from_row(extra, max_turns=3)  # what the xrouter_agent loop builds from the row
        assert (episode.query_id, episode.mode) == (extra["query_id"], "agent")
        assert episode.user_messages == extra["user_messages"]
