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

import pandas as pd

from modelops.api.common import VERSION_LENGTH


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
            self.digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())

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
