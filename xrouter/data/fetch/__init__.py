"""Getting the public data sets: `xrouter data fetch NAME` downloads, verifies and lays them out.

Each data set fills one folder under the data folder (`data_root()`: `$XROUTER_DATA`, default `data/`)
exactly as the source adapters and the `--data` / `--dataset` flags read it. The download goes into a
temporary sibling folder, is verified (SHA-256, then the adapter reads every file) and only then renamed
into place, so a failed, interrupted or offline fetch leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from xrouter.data.fetch.download import FetchError, Progress, download, mirrored, remove_tree
from xrouter.data.fetch.registry import DATASETS, GROUPS, DatasetSpec, names
from xrouter.errors import UsageError
from xrouter.io import atomic_write_text, refuse_existing

__all__ = ["DATASETS", "GROUPS", "FetchError", "data_root", "expand", "fetch_dataset", "names"]


def data_root() -> Path:
    """The data folder: $XROUTER_DATA, else `data` in the working folder."""
    return Path(os.environ.get("XROUTER_DATA") or "data")


def expand(name: str) -> list[DatasetSpec]:
    """The data sets a fetch name stands for (a group name stands for several)."""
    if name in GROUPS:
        return [DATASETS[n] for n in GROUPS[name]]
    if name not in DATASETS:
        raise UsageError(f"unknown data set {name!r}; known: {', '.join(names())} (see xrouter data list)")
    return [DATASETS[name]]


def fetch_dataset(
    spec: DatasetSpec, root: Path, *, overwrite: bool = False, mirror: str | None = None,
    progress: Callable[[str], Progress] | None = None,
) -> Path:  # fmt: skip
    """Download, verify and lay out one data set under `root`; returns its folder."""
    target = root / spec.folder
    refuse_existing([target], overwrite=overwrite)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    remove_tree(partial)
    made = [p for p in reversed(partial.parents) if not p.exists()]  # removed again if the fetch fails
    try:
        partial.mkdir(parents=True)
        records = []
        for remote in spec.files:
            on_progress = progress(remote.dest) if progress else None
            got = download(mirrored(remote.url, mirror), partial / remote.dest, sha256=remote.sha256,
                           gunzip=remote.gunzip, on_progress=on_progress)  # fmt: skip
            records.append({"url": remote.url, "file": remote.dest, "bytes": got.bytes, "sha256": got.sha256})
        if spec.convert == "routerbench_pickle":
            _convert_pickles(spec, partial)
        _validate(spec, partial)
        about = {"name": spec.name, "source": spec.source, "license": spec.license, "files": records,
                 "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
        atomic_write_text(partial / "SOURCE.json", json.dumps(about, indent=1) + "\n")
        if target.exists():
            remove_tree(target)
        partial.rename(target)
        made = []
    finally:
        remove_tree(partial)
        for folder in reversed(made):
            with contextlib.suppress(OSError):  # only empty folders; never anything a user put there
                folder.rmdir()
    return target


def _convert_pickles(spec: DatasetSpec, folder: Path) -> None:
    from xrouter.data.fetch.pickles import load_frame, write_benchmark_csvs

    for remote in spec.files:
        raw = folder / remote.dest
        write_benchmark_csvs(load_frame(raw), folder, remote.dest)
        raw.unlink()


def _validate(spec: DatasetSpec, folder: Path) -> None:
    """Read every file the way the project will (a file it cannot use fails the fetch, naming the row)."""
    if spec.layout == "routerbench":
        from xrouter.data.outcomes import load_routerbench_csv

        csvs = sorted(folder.glob("*.csv"))
        if not csvs:
            raise FetchError(f"{spec.name}: the download holds no RouterBench CSV")
        for path in csvs:
            load_routerbench_csv(path)
    elif spec.layout == "evalset":
        from xrouter.data.sources import source_module

        module = source_module(spec.adapter)
        for _row in module.rows(folder / Path(module.DEFAULT_FILE).name):
            pass
