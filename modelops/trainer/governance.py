"""PII handling: named columns are dropped or replaced by keyed hashes before anything is stored."""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd

from modelops.api.dataset import Governance
from modelops.trainer.errors import SpecError

PII_KEY_ENV = "MODELOPS_PII_KEY"
HASH_LENGTH = 16


def pii_key(dataset_name: str) -> bytes:
    """The HMAC key: MODELOPS_PII_KEY when set, else the dataset name.

    A keyed hash keeps equal values equal (joins and group-bys still work) while a
    plain sha256 of an e-mail address could be reversed by hashing guesses; set
    the env var from a Secret for real secrecy.
    """
    return os.environ.get(PII_KEY_ENV, f"modelops:{dataset_name}").encode()


def hash_values(column: pd.Series, key: bytes) -> pd.Series:
    """Hash each distinct value once (columns repeat values a lot); missing stays missing."""
    uniques = column.dropna().unique()
    mapping = {value: hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:HASH_LENGTH] for value in uniques}
    return column.map(mapping).astype(object)


def apply_governance(
    frame: pd.DataFrame, governance: Governance, *, target: str | None, dataset_name: str
) -> tuple[pd.DataFrame, list[str]]:
    """The frame with PII handled, and the PII columns that were dropped."""
    missing = [c for c in governance.pii_columns if c not in frame.columns]
    if missing:
        raise SpecError(f"spec.governance.piiColumns: columns not in the data: {missing}")
    if target is not None and target in governance.pii_columns:
        raise SpecError(f"spec.governance.piiColumns: the target column {target!r} cannot be PII")
    if not governance.pii_columns:
        return frame, []
    if governance.pii_action == "drop":
        return frame.drop(columns=governance.pii_columns), list(governance.pii_columns)
    key = pii_key(dataset_name)
    hashed = frame.copy(deep=False)
    for name in governance.pii_columns:
        hashed[name] = hash_values(frame[name], key)
    return hashed, []
