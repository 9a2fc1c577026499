"""`RouterSFTDataset`: verl's multi-turn SFT dataset over traces whose messages and tools are JSON text.

Parquet stores a list of dicts as one struct type with the union of every dict's keys, so each tool
schema would gain the other tools' properties as nulls and each message a `tool_calls: null`, which
changes what the chat template renders. `xrouter sft-data` therefore writes `messages` and `tools` as
JSON strings; this subclass decodes them after verl has read the files and before any row is
tokenised. Select it with `data.custom_cls.path=pkg://xrouter.verl_plugin.sft_dataset
data.custom_cls.name=RouterSFTDataset` (`xrouter train --stage sft` does).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset


def _decode(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


class RouterSFTDataset(MultiTurnSFTDataset):
    """verl's MultiTurnSFTDataset with JSON-text `messages` and `tools` columns decoded."""

    def _read_files_and_process(self) -> None:
        super()._read_files_and_process()
        for key in (self.messages_key, self.tools_key):
            if key in self.dataframe.columns:
                decoded = [_decode(v) for v in self.dataframe[key].tolist()]
                self.dataframe[key] = pd.Series(decoded, index=self.dataframe.index, dtype=object)
        self.messages = [_decode(m) for m in self.dataframe[self.messages_key].tolist()]
        if self.tools_key in self.dataframe.columns:
            self.tools = [_decode(t) for t in self.dataframe[self.tools_key].tolist()]
