"""Data-quality gates name their check and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelops.api.dataset import DataValidation
from modelops.trainer.errors import QualityGateError
from modelops.trainer.quality import check_quality, missing_fractions

FRAME = pd.DataFrame(
    {
        "age": [20, 35, 150, 40],
        "score": [0.5, 1.5, 0.2, 0.9],
        "color": ["red", "blue", "mauve", None],
        "flag": [0, 1, 1, 0],
    }
)


def _failures(raw: pd.DataFrame, cleaned: pd.DataFrame, **spec: object) -> list[str]:
    with pytest.raises(QualityGateError) as caught:
        check_quality(missing_fractions(raw, list(raw.columns)), cleaned, DataValidation.model_validate(spec))
    return caught.value.failures


def test_passing_gates_raise_nothing() -> None:
    spec = DataValidation.model_validate(
        {"minRows": 4, "maxMissingFraction": 0.25, "columns": [{"name": "age", "type": "integer", "min": 0}]}
    )

    check_quality(missing_fractions(FRAME, list(FRAME.columns)), FRAME, spec)


def test_every_failed_gate_is_reported_with_its_column() -> None:
    failures = _failures(
        FRAME,
        FRAME,
        minRows=10,
        maxMissingFraction=0.1,
        columns=[
            {"name": "age", "max": 120},
            {"name": "score", "min": 0, "max": 1},
            {"name": "color", "allowedValues": ["red", "blue"]},
            {"name": "flag", "type": "boolean"},
            {"name": "missing"},
        ],
    )

    assert failures == [
        "validation.maxMissingFraction: column 'color' has 25.0% missing values (max 10.0%)",
        "validation.minRows: 4 rows after cleaning (min 10)",
        "validation.columns[age].max: column 'age' has 1 values above 120",
        "validation.columns[score].max: column 'score' has 1 values above 1",
        "validation.columns[color].allowedValues: column 'color' has 1 values outside the allowed set",
        "validation.columns[missing]: column 'missing' is not in the data",
    ]


@pytest.mark.parametrize(
    ("column", "kind"),
    [("color", "number"), ("score", "integer"), ("score", "boolean"), ("score", "category")],
)
def test_type_gate_names_the_expected_type(column: str, kind: str) -> None:
    failures = _failures(FRAME, FRAME, columns=[{"name": column, "type": kind}])

    assert failures == [
        f"validation.columns[{column}].type: column {column!r}: values are not {kind} (dtype {FRAME[column].dtype})"
    ]


def test_missing_fraction_is_judged_on_the_data_as_ingested() -> None:
    raw = pd.DataFrame({"a": [1.0, np.nan, np.nan, 4.0]})
    imputed = raw.fillna(2.0)

    assert _failures(raw, imputed, maxMissingFraction=0.4) == [
        "validation.maxMissingFraction: column 'a' has 50.0% missing values (max 40.0%)"
    ]


def test_allowed_numeric_values_match_across_int_and_float() -> None:
    frame = pd.DataFrame({"k": [1.0, 2.0, 2.0], "n": [1, 2, 2]})

    spec = DataValidation.model_validate(
        {"columns": [{"name": "k", "allowedValues": ["1", "2"]}, {"name": "n", "allowedValues": ["1", "2"]}]}
    )

    check_quality(missing_fractions(frame, ["k"]), frame, spec)
