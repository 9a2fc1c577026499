"""RouterBench's pickled DataFrame -> RouterBench-format CSVs (one per benchmark), loaded without running code.

A pickle can name any importable callable, so the file is read by an unpickler that only resolves pandas,
numpy and pyarrow data classes and their reconstruction helpers; anything else (`os.system`, `eval`, ...)
stops the load with a `DataError` before it can run. The CSVs have the columns the adapters read:
an unnamed row-index column, `sample_id`, `prompt` and `<model>|model_response` as stringified lists,
`eval_name`, `<model>` (correctness) and `<model>|total_cost`.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xrouter.data.outcomes import routerbench_models
from xrouter.errors import DataError
from xrouter.io import atomic_path

_BUILTINS = {
    ("builtins", "slice"), ("builtins", "bytearray"), ("builtins", "set"), ("builtins", "frozenset"),
    ("builtins", "complex"), ("builtins", "object"), ("__builtin__", "slice"), ("__builtin__", "bytearray"),
    ("__builtin__", "set"), ("__builtin__", "frozenset"), ("__builtin__", "object"), ("copyreg", "_reconstructor"),
    ("_codecs", "encode"), ("functools", "partial"), ("collections", "OrderedDict"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"), ("datetime", "timezone"),
}  # fmt: skip
_HELPERS = {
    "_reconstruct", "_frombuffer", "scalar", "_unpickle_block", "new_block", "_new_Index", "_new_PeriodIndex",
    "_new_DatetimeIndex", "_new_IntervalIndex", "_restore_array", "type_for_alias", "py_buffer",
    "_reconstruct_table", "_reconstruct_record_batch", "field", "schema", "chunked_array",
}  # fmt: skip


def _data_types() -> tuple[type, ...]:
    """Classes a DataFrame pickle may construct: frames, indexes, blocks, arrays, dtypes, scalars."""
    import pandas.core.internals.blocks as blocks
    import pandas.core.internals.managers as managers
    from pandas._libs.internals import BlockPlacement
    from pandas.api.extensions import ExtensionArray, ExtensionDtype

    types: list[type] = [pd.DataFrame, pd.Series, pd.Index, ExtensionArray, ExtensionDtype, BlockPlacement,
                         managers.BaseBlockManager, blocks.Block, pd.Timestamp, pd.Timedelta, pd.Period,
                         pd.Interval, pd.DateOffset, np.ndarray, np.dtype, np.generic]  # fmt: skip
    try:
        import pyarrow as pa

        types += [pa.DataType, pa.Array, pa.ChunkedArray, pa.Buffer, pa.Field, pa.Schema]
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    return tuple(types)


try:  # pandas' own unpickler also maps classes that moved between pandas versions
    from pandas.compat.pickle_compat import Unpickler as _Base
except ImportError:  # pragma: no cover - older pandas
    _Base = pickle.Unpickler


class SafeUnpickler(_Base):
    """Resolves only pandas/numpy/pyarrow data classes and reconstruction helpers; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - see the class docstring
        if "." not in name and (module, name) in _BUILTINS:
            return super().find_class(module, name)
        if "." not in name and module.split(".")[0] in ("pandas", "numpy", "pyarrow"):
            obj = super().find_class(module, name)
            if (isinstance(obj, type) and issubclass(obj, _data_types())) or (callable(obj) and name in _HELPERS):
                return obj
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not a pandas/numpy data type)")


def load_frame(path: Path) -> pd.DataFrame:
    """The DataFrame in a pickle file, loaded with `SafeUnpickler`; DataError for anything else."""
    try:
        with path.open("rb") as handle:
            frame = SafeUnpickler(handle).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError) as exc:
        raise DataError(f"{path.name}: not a RouterBench pickle ({exc})") from None
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{path.name}: holds a {type(frame).__name__}, not a pandas DataFrame")
    return frame


def _as_text(cell: Any) -> Any:
    """List-like cells as the stringified Python list RouterBench CSVs hold; other cells unchanged."""
    if isinstance(cell, (list, tuple, np.ndarray)):
        return str([str(item) for item in cell])
    return cell


def write_benchmark_csvs(frame: pd.DataFrame, out_dir: Path, where: str) -> list[Path]:
    """One RouterBench-format CSV per `eval_name` in `out_dir`; DataError naming a missing column."""
    for column in ("sample_id", "prompt", "eval_name"):
        if column not in frame.columns:
            raise DataError(f"{where}: missing column {column!r} (not RouterBench outcomes)")
    models = routerbench_models(frame.columns)
    if not models:
        raise DataError(f"{where}: no '<model>' and '<model>|total_cost' column pairs")
    frame = frame.copy()
    for column in ["prompt", *(f"{m}|model_response" for m in models if f"{m}|model_response" in frame.columns)]:
        frame[column] = frame[column].map(_as_text)
    paths = []
    for eval_name, part in frame.groupby("eval_name", sort=True):
        path = out_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", str(eval_name)) + ".csv")
        with atomic_path(path) as tmp:
            part.to_csv(tmp)
        paths.append(path)
    return paths
