"""`samples.jsonl`: one JSON line per (policy, dataset, query), appended so that a crash loses at most one line.

Each sample is written with a single `os.write` on a file opened with O_APPEND (fsync when the log closes), so a
line is either complete or, after a kill mid-write, a partial last line. On resume the partial tail is cut off and
every (policy, dataset, query_id) already present is skipped; duplicates, should a file ever hold them,
are ignored after the first.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from xrouter.errors import DataError
from xrouter.eval.policies import Sample

log = logging.getLogger(__name__)

Key = tuple[str, str, str]


def sample_key(row: dict[str, Any] | Sample) -> Key:
    """(policy, dataset, query_id) of a sample."""
    if isinstance(row, Sample):
        return (row.policy, row.dataset, row.query_id)
    return (str(row["policy"]), str(row["dataset"]), str(row["query_id"]))


class SampleLog:
    """Append-only JSONL of samples with resume support."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def repair(self) -> int:
        """Cut a partial last line left by an interrupted write; return the bytes removed."""
        if not self.path.exists():
            return 0
        size = self.path.stat().st_size
        if size == 0:
            return 0
        with self.path.open("rb+") as fh:
            data = fh.read()
            end = data.rfind(b"\n") + 1
            if end < size:
                fh.truncate(end)
                log.warning("%s: removed a partial last line (%d bytes) from an interrupted run", self.path, size - end)
            return size - end

    def read(self) -> list[dict[str, Any]]:
        """All complete samples, first occurrence of each key only."""
        rows: list[dict[str, Any]] = []
        seen: set[Key] = set()
        if not self.path.exists():
            return rows
        with self.path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.endswith("\n"):
                    break  # partial tail of an interrupted write
                try:
                    row = json.loads(line)
                    key = sample_key(row)
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise DataError(f"{self.path}: line {n} is not a sample record") from None
                if key not in seen:
                    seen.add(key)
                    rows.append(row)
        return rows

    def done_keys(self) -> set[Key]:
        """Keys of the samples already recorded."""
        return {sample_key(r) for r in self.read()}

    def append(self, sample: Sample) -> None:
        """Write one sample as one line with a single write call."""
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        line = json.dumps(asdict(sample), ensure_ascii=False, default=str) + "\n"
        os.write(self._fd, line.encode("utf-8"))

    def close(self) -> None:
        """Flush to disk and close."""
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
