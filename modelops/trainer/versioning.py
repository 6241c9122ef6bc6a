"""Content-derived version identifiers for datasets and models.

A dataset version hashes the cleaned content itself; a model version hashes
everything that determines the fitted model (skops archives are zip files with
timestamps, so hashing the saved bytes would give a new version every run).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from modelops.api.common import VERSION_LENGTH


def dataset_version(frame: pd.DataFrame, *, target: str | None) -> str:
    """Same cleaned data (values, column names and order, dtypes, row order, target) -> same version."""
    digest = hashlib.sha256()
    header = {
        "columns": [str(c) for c in frame.columns],
        "dtypes": [str(t) for t in frame.dtypes],
        "target": target,
        "rows": len(frame),
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    if len(frame.columns):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:VERSION_LENGTH]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def model_version(inputs: Mapping[str, Any]) -> str:
    """Hash of every input that determines the model (dataset version, spec, seed, libraries)."""
    return hashlib.sha256(canonical_json(dict(inputs)).encode()).hexdigest()[:VERSION_LENGTH]
