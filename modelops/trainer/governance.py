"""PII handling: named columns are dropped or replaced by keyed hashes before anything is stored."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

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


def pii_columns(columns: Sequence[str], governance: Governance, *, target: str | None) -> tuple[list[str], list[str]]:
    """(columns to drop, columns to hash) among the selected `columns`, checked against them."""
    missing = [c for c in governance.pii_columns if c not in columns]
    if missing:
        raise SpecError(f"spec.governance.piiColumns: columns not in the data: {missing}")
    if target is not None and target in governance.pii_columns:
        raise SpecError(f"spec.governance.piiColumns: the target column {target!r} cannot be PII")
    if governance.pii_action == "drop":
        return list(governance.pii_columns), []
    return [], list(governance.pii_columns)


def hash_columns(frame: pd.DataFrame, names: Sequence[str], key: bytes) -> pd.DataFrame:
    """`frame` with the `names` columns replaced by keyed hashes of their text."""
    if not names:
        return frame
    return frame.assign(**{name: hash_values(frame[name], key) for name in names})


def apply_governance(
    frame: pd.DataFrame, governance: Governance, *, target: str | None, dataset_name: str
) -> tuple[pd.DataFrame, list[str]]:
    """The frame with PII handled, and the PII columns that were dropped."""
    dropped, hashed = pii_columns([str(c) for c in frame.columns], governance, target=target)
    return hash_columns(frame.drop(columns=dropped), hashed, pii_key(dataset_name)), dropped
