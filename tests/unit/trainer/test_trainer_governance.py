"""PII columns are dropped or hashed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelops.api.dataset import Governance
from modelops.trainer.errors import SpecError
from modelops.trainer.governance import PII_KEY_ENV, apply_governance

FRAME = pd.DataFrame({"email": ["a@x.io", "b@x.io", "a@x.io", None], "v": [1, 2, 3, 4]})


def test_drop_removes_the_columns_and_reports_them() -> None:
    out, dropped = apply_governance(FRAME, Governance(pii_columns=["email"]), target="v", dataset_name="d")

    assert list(out.columns) == ["v"] and dropped == ["email"]


def test_hash_keeps_equality_hides_values_and_keeps_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PII_KEY_ENV, raising=False)
    out, dropped = apply_governance(
        FRAME, Governance(pii_columns=["email"], pii_action="hash"), target="v", dataset_name="d"
    )
    hashed = out["email"]

    assert dropped == []
    assert hashed[0] == hashed[2] != hashed[1]
    assert hashed[3] is None or (isinstance(hashed[3], float) and np.isnan(hashed[3]))
    assert not hashed.astype(str).str.contains("@").any()


def test_hash_depends_on_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    governance = Governance(pii_columns=["email"], pii_action="hash")
    monkeypatch.setenv(PII_KEY_ENV, "one")
    first = apply_governance(FRAME, governance, target=None, dataset_name="d")[0]["email"][0]
    monkeypatch.setenv(PII_KEY_ENV, "two")
    second = apply_governance(FRAME, governance, target=None, dataset_name="d")[0]["email"][0]

    assert first != second


def test_unknown_pii_column_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match=r"piiColumns: columns not in the data: \['mail'\]"):
        apply_governance(FRAME, Governance(pii_columns=["mail"]), target=None, dataset_name="d")


def test_target_cannot_be_pii() -> None:
    with pytest.raises(SpecError, match="target column 'v' cannot be PII"):
        apply_governance(FRAME, Governance(pii_columns=["v"]), target="v", dataset_name="d")
