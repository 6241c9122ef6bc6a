"""Cleaning: duplicates, outliers, missing values.

Each test runs twice: on the frame as one batch held in memory, and cut into batches of a row or
two with every statistic computed by passes over the spill (`spilled.TINY`); both must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.api.dataset import Cleaning, Outliers
from modelops.trainer import exact
from modelops.trainer.cleaning import CleaningCounts, Fitted, Values, outlier_bounds
from modelops.trainer.errors import SpecError

from .spilled import BUDGETS, clean_frame

Clean = Callable[..., tuple[pd.DataFrame, CleaningCounts, Fitted]]


def _cleaning(**fields: object) -> Cleaning:
    return Cleaning.model_validate(fields)


@pytest.fixture(params=sorted(BUDGETS))
def clean(request: pytest.FixtureRequest, tmp_path: Path) -> Clean:
    """`clean(frame, spec, features=..., target=...)` as prepare cleans, in one batch or in many."""
    budget = BUDGETS[request.param]
    calls = iter(range(1000))

    def run(
        frame: pd.DataFrame, spec: Cleaning, *, features: Sequence[str], target: str | None
    ) -> tuple[pd.DataFrame, CleaningCounts, Fitted]:
        directory = tmp_path / f"clean-{next(calls)}"
        return clean_frame(frame, spec, features=features, target=target, budget=budget, directory=directory)

    return run


def _bounds(values: list[float], method: str, threshold: float) -> tuple[float, float]:
    observed = np.array([v for v in values if not np.isnan(v)])
    spec = Outliers.model_validate({"method": method, "threshold": threshold})
    held = Values(
        held=[observed], reread=exact.held(observed), count=observed.size, missing=len(values) - observed.size
    )
    return outlier_bounds(held, spec, gather=observed.size)


def test_duplicates_are_dropped_by_default_and_counted(clean: Clean) -> None:
    frame = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "y"]})

    cleaned, counts, _ = clean(frame, _cleaning(), features=["a", "b"], target=None)
    kept, _, _ = clean(frame, _cleaning(dropDuplicates=False), features=["a", "b"], target=None)

    assert len(cleaned) == 2 and counts.duplicates_dropped == 1
    assert len(kept) == 3


def test_rows_without_a_label_are_always_dropped(clean: Clean) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": ["p", None, "q"]})

    cleaned, counts, _ = clean(frame, _cleaning(), features=["a"], target="y")

    assert cleaned["y"].tolist() == ["p", "q"] and counts.extra["rows_dropped_missing_target"] == 1


@pytest.mark.parametrize(
    ("strategy", "fill", "expected_a", "expected_c"),
    [
        ("mean", None, 2.0, "u"),
        ("median", None, 1.5, "u"),
        ("most_frequent", None, 1.0, "u"),
        ("constant", 0, 0.0, "0"),
    ],
)
def test_missing_values_are_imputed_per_strategy(
    clean: Clean, strategy: str, fill: object, expected_a: float, expected_c: str
) -> None:
    frame = pd.DataFrame({"a": [1.0, 1.0, 2.0, 4.0, np.nan], "c": ["u", "u", "v", None, "u"]})
    spec = _cleaning(dropDuplicates=False, missingValues={"strategy": strategy, "fillValue": fill})

    cleaned, counts, _ = clean(frame, spec, features=["a", "c"], target=None)

    assert cleaned.loc[4, "a"] == expected_a and cleaned.loc[3, "c"] == expected_c
    assert counts.values_imputed == 2


def test_drop_strategy_drops_incomplete_rows(clean: Clean) -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "c": ["u", "v", None]})

    cleaned, counts, _ = clean(frame, _cleaning(missingValues={"strategy": "drop"}), features=["a", "c"], target=None)

    assert len(cleaned) == 1 and counts.rows_dropped_missing == 2


def test_numeric_text_fill_value_fills_a_numeric_column_as_a_number(clean: Clean) -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan]})

    cleaned, _, _ = clean(
        frame, _cleaning(missingValues={"strategy": "constant", "fillValue": "0.5"}), features=["a"], target=None
    )

    assert cleaned["a"].tolist() == [1.0, 0.5]


def test_text_fill_value_for_a_numeric_column_is_a_spec_error(clean: Clean) -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan]})

    with pytest.raises(SpecError, match="fillValue: 'n/a' cannot fill numeric column 'a'"):
        clean(frame, _cleaning(missingValues={"strategy": "constant", "fillValue": "n/a"}), features=["a"], target=None)


def test_iqr_bounds_follow_the_quartiles() -> None:
    low, high = _bounds([1.0, 2.0, 3.0, 4.0, 5.0, np.nan], "iqr", 1.5)

    assert (low, high) == (-1.0, 7.0)


def test_zscore_bounds_use_the_population_std() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    low, high = _bounds(values, "zscore", 2.0)

    assert high - 3.0 == pytest.approx(2 * float(np.std(values)))
    assert low == pytest.approx(6.0 - high)


@pytest.mark.parametrize("method", ["iqr", "zscore"])
def test_outliers_are_clipped_into_bounds(clean: Clean, method: str) -> None:
    frame = pd.DataFrame({"a": [10.0] * 20 + [11.0] * 20 + [1000.0]})

    cleaned, counts, _ = clean(
        frame, _cleaning(dropDuplicates=False, outliers={"method": method, "threshold": 2}), features=["a"], target=None
    )

    assert counts.outliers_clipped == 1 and cleaned["a"].max() < 1000.0


def test_clipping_keeps_an_integer_column_integer(clean: Clean) -> None:
    frame = pd.DataFrame({"age": [20, 30, 40, 50, 60, 900]})

    cleaned, _, _ = clean(frame, _cleaning(outliers={"method": "iqr"}), features=["age"], target=None)

    assert pd.api.types.is_integer_dtype(cleaned["age"]) and cleaned["age"].max() < 900


def test_outlier_rows_are_dropped_when_asked(clean: Clean) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 2.0, 100.0], "b": ["x"] * 5})

    cleaned, counts, _ = clean(
        frame,
        _cleaning(dropDuplicates=False, outliers={"method": "iqr", "action": "drop"}),
        features=["a", "b"],
        target=None,
    )

    assert len(cleaned) == 4 and counts.outliers_dropped == 1


def test_outlier_columns_must_exist_and_be_numeric(clean: Clean) -> None:
    frame = pd.DataFrame({"a": [1.0], "b": ["x"]})

    with pytest.raises(SpecError, match="not numeric"):
        clean(frame, _cleaning(outliers={"method": "iqr", "columns": ["b"]}), features=["a", "b"], target=None)
    with pytest.raises(SpecError, match="not in the data"):
        clean(frame, _cleaning(outliers={"method": "iqr", "columns": ["z"]}), features=["a", "b"], target=None)


def test_clip_bounds_are_returned_for_the_pipeline_to_repeat_and_dropped_rows_leave_none(clean: Clean) -> None:
    frame = pd.DataFrame({"age": [20, 30, 40, 50, 60, 900], "w": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})

    cleaned, _, fitted = clean(frame, _cleaning(outliers={"method": "iqr"}), features=["age", "w"], target=None)
    _, _, dropping = clean(
        frame, _cleaning(outliers={"method": "iqr", "action": "drop"}), features=["age", "w"], target=None
    )

    assert fitted["age"].upper == cleaned["age"].max() and fitted["age"].upper == float(int(fitted["age"].upper or 0))
    assert fitted["age"].lower is not None and fitted["age"].fill is None
    assert dropping == {}


def test_every_feature_gets_its_fill_value_even_without_missing_values_here(clean: Clean) -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [2.0, 4.0, 6.0], "c": ["x", "x", None]})

    _, _, fitted = clean(
        frame,
        _cleaning(dropDuplicates=False, missingValues={"strategy": "median"}),
        features=["a", "b", "c"],
        target=None,
    )

    assert (fitted["a"].fill, fitted["b"].fill, fitted["c"].fill) == (2.0, 4.0, "x")


def test_dropping_missing_rows_fits_no_fill(clean: Clean) -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0]})

    _, _, fitted = clean(frame, _cleaning(missingValues={"strategy": "drop"}), features=["a"], target=None)

    assert fitted == {}
