"""Content-derived version identifiers for datasets and models.

A dataset version hashes the cleaned content itself; a model version hashes
everything that determines the fitted model (skops archives are zip files with
timestamps, so hashing the saved bytes would give a new version every run).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelops.api.common import VERSION_LENGTH


def column_hash(column: pd.Series) -> npt.NDArray[np.uint64]:
    """pandas' 64-bit hash of each value (`hash_pandas_object`), text hashed once per distinct value.

    pandas hashes every cell of a text column on its own; a column repeats its values, and hashing
    the distinct ones then picking by code gives the same numbers three times faster.
    """
    if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return _hashed(column)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    distinct = _hashed(pd.Series(uniques, dtype=column.dtype))
    if (codes >= 0).all():
        return distinct[codes]
    missing = _hashed(pd.Series([None], dtype=column.dtype))[0]
    return np.where(codes >= 0, distinct[np.maximum(codes, 0)], missing).astype(np.uint64, copy=False)


def _hashed(column: pd.Series) -> npt.NDArray[np.uint64]:
    hashed: npt.NDArray[np.uint64] = np.asarray(pd.util.hash_pandas_object(column, index=False), dtype=np.uint64)
    return hashed


def combine_hashes(columns: Sequence[npt.NDArray[np.uint64]], rows: int) -> npt.NDArray[np.uint64]:
    """pandas' combination of column hashes into row hashes (`combine_hash_arrays`), as `hash_pandas_object` does."""
    out = np.full(rows, 0x345678, dtype=np.uint64)
    multiplier = 1000003
    with np.errstate(over="ignore"):
        for index, hashed in enumerate(columns):
            out ^= hashed
            out *= np.uint64(multiplier)
            countdown = len(columns) - index
            multiplier = (multiplier + 82520 + countdown + countdown) & 0xFFFFFFFFFFFFFFFF
        out += np.uint64(97531)
    return out


def row_hashes(frame: pd.DataFrame) -> npt.NDArray[np.uint64]:
    """`pd.util.hash_pandas_object(frame, index=False)`, faster on text."""
    return combine_hashes([column_hash(frame[name]) for name in frame.columns], len(frame))


class DatasetHash:
    """The version of cleaned data fed batch by batch, in row order.

    Same cleaned data (values, column names and order, dtypes, row order, target) -> same version,
    however it is cut into batches: the header, then pandas' 64-bit hash of each row.
    """

    def __init__(self, columns: Sequence[str], dtypes: Sequence[object], *, target: str | None, rows: int) -> None:
        self.digest = hashlib.sha256()
        header = {
            "columns": [str(c) for c in columns],
            "dtypes": [str(t) for t in dtypes],
            "target": target,
            "rows": rows,
        }
        self.digest.update(json.dumps(header, sort_keys=True).encode())

    def update(self, frame: pd.DataFrame) -> None:
        if len(frame.columns):
            self.digest.update(row_hashes(frame).tobytes())

    def version(self) -> str:
        return self.digest.hexdigest()[:VERSION_LENGTH]


def dataset_version(frame: pd.DataFrame, *, target: str | None) -> str:
    """The version of a cleaned frame held in memory."""
    hashed = DatasetHash(list(frame.columns), list(frame.dtypes), target=target, rows=len(frame))
    hashed.update(frame)
    return hashed.version()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def model_version(inputs: Mapping[str, Any]) -> str:
    """Hash of every input that determines the model (dataset version, spec, seed, libraries)."""
    return hashlib.sha256(canonical_json(dict(inputs)).encode()).hexdigest()[:VERSION_LENGTH]
