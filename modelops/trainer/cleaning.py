"""Cleaning steps of `prepare`: duplicates, outliers, missing values, fitted on the whole data.

Order matters and is fixed: duplicates first (they would bias the statistics),
then outliers (computed on observed values only, before imputation could hide
them), then missing values (imputed from the de-outliered data). Rows missing
the target are always dropped: a label cannot be imputed.

Clipping bounds and fill values are fitted here, on the data, and returned with the plan that
cleans it: the model's pipeline repeats them on every raw row it serves
(`modelops.artifacts.transformers`), so serving sees what training saw.

The data is on disk (`Spill`), larger than memory; each step reads what it needs from it, a column
or a batch at a time, and narrows the rows kept (`RowMask`). Every statistic is exact
(`modelops.trainer.exact`; duplicates up to a 128-bit fingerprint, `modelops.trainer.dedup`), so a
cleaned row is what cleaning the whole frame in memory gave, up to the last bit of a mean or a
standard deviation (`ExactSum` rounds once, where numpy rounded along the way).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelops.api.dataset import Cleaning, MissingValues, Outliers
from modelops.artifacts.dataset_format import ColumnCleaning
from modelops.contract.jobs import PREPARE_ENV_PREFIX
from modelops.trainer import exact
from modelops.trainer.budget import Budget
from modelops.trainer.dedup import duplicate_rows
from modelops.trainer.errors import BadInputError, SpecError
from modelops.trainer.spill import RowMask, Spill

# feature -> the row-wise cleaning fitted on it
Fitted = dict[str, ColumnCleaning]
Fill = int | float | str


@dataclass
class CleaningCounts:
    duplicates_dropped: int = 0
    rows_dropped_missing: int = 0
    values_imputed: int = 0
    outliers_clipped: int = 0
    outliers_dropped: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "duplicates_dropped": self.duplicates_dropped,
            "rows_dropped_missing": self.rows_dropped_missing,
            "values_imputed": self.values_imputed,
            "outliers_clipped": self.outliers_clipped,
            "outliers_dropped": self.outliers_dropped,
            **self.extra,
        }


def is_numeric_dtype(dtype: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def is_numeric(column: pd.Series) -> bool:
    return is_numeric_dtype(column.dtype)


class TooManyCategoriesError(BadInputError):
    """A text column has more distinct values than prepare may count within its memory setting."""


@dataclass
class Rows:
    """The rows a step of cleaning keeps, and what the steps so far did to their values."""

    spill: Spill
    keep: RowMask
    clip: dict[str, tuple[float, float]] = field(default_factory=dict)
    fill: dict[str, Fill] = field(default_factory=dict)

    def clean(self, column: pd.Series) -> pd.Series:
        """A column of kept rows with the clipping and filling fitted so far applied."""
        name = str(column.name)
        if name in self.clip:
            low, high = self.clip[name]
            column = column.clip(low, high).astype(column.dtype)
        if name in self.fill and column.hasnans:  # an integer column has none: its type stays
            column = column.fillna(self.fill[name])
        return column

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """The kept rows of each batch, cleaned as far as the plan goes."""
        for index, frame in enumerate(self.spill.frames(columns)):
            kept = frame[self.keep.batch(index)]
            yield pd.DataFrame({name: self.clean(kept[name]) for name in kept.columns})

    def column(self, name: str) -> Iterator[pd.Series]:
        for frame in self.batches([name]):
            yield frame[name]

    def scan(self, name: str, convert: Callable[[pd.Series], exact.Values], *, gather: int) -> tuple[exact.Scan, int]:
        """A scan of the column's present values for `exact` (held in memory when at most `gather`), and their count."""

        def values() -> Iterator[exact.Values]:
            for column in self.column(name):
                yield convert(column.dropna())

        held: list[exact.Values] | None = []
        count = 0
        for part in values():
            count += part.size
            if held is not None and count <= gather:
                held.append(part)
            else:
                held = None
        if held is not None:
            return exact.held(*held), count
        return values, count


def as_floats(column: pd.Series) -> npt.NDArray[np.float64]:
    return column.to_numpy(dtype=np.float64)


def as_counted(column: pd.Series) -> exact.Values:
    """Values as `mode` counts them: integers as integers, floats with -0.0 as 0.0 (one value to pandas)."""
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy(dtype=np.int64)
    return column.to_numpy(dtype=np.float64) + 0.0


@dataclass
class CleaningPlan:
    """Which rows the cleaned data keeps and what is done to their values, fitted on the whole data."""

    rows: Rows
    counts: CleaningCounts
    fitted: Fitted

    @property
    def row_count(self) -> int:
        return self.rows.keep.count()


def fit_cleaning(
    spill: Spill, spec: Cleaning, *, features: Sequence[str], target: str | None, budget: Budget, scratch: Path
) -> CleaningPlan:
    """The plan that cleans the spilled data as `spec` says: fitted on it, not yet applied."""
    counts = CleaningCounts()
    fitted: Fitted = {}
    rows = Rows(spill, RowMask(spill.sizes))
    if spec.drop_duplicates:
        duplicated = duplicate_rows(spill, scratch / "fingerprints", sort_rows=budget.dedup_rows)
        counts.duplicates_dropped = int(duplicated.size)
        rows.keep.drop_rows(duplicated)
    if target is not None:
        unlabeled = _drop_where(rows, [target], lambda frame: frame[target].isna().to_numpy())
        if unlabeled:
            counts.extra["rows_dropped_missing_target"] = unlabeled
    if spec.outliers is not None:
        _handle_outliers(rows, spec.outliers, features, counts, fitted, budget)
    if spec.missing_values is not None:
        _handle_missing(rows, spec.missing_values, features, counts, fitted, budget)
    return CleaningPlan(rows=rows, counts=counts, fitted=fitted)


def _drop_where(rows: Rows, columns: Sequence[str], dropped: Callable[[pd.DataFrame], npt.NDArray[np.bool_]]) -> int:
    """Clear the kept rows for which `dropped` (of their `columns`, cleaned so far) is true; how many."""
    total = 0
    for index, frame in enumerate(rows.spill.frames(columns)):
        keep = rows.keep.batch(index)
        kept = pd.DataFrame({name: rows.clean(frame[name][keep]) for name in columns})
        drop = dropped(kept)
        if drop.any():
            total += int(drop.sum())
            keep[np.flatnonzero(keep)[drop]] = False
            rows.keep.set_batch(index, keep)
    return total


def outlier_bounds(scan: exact.Scan, count: int, spec: Outliers, *, gather: int) -> tuple[float, float]:
    """(low, high) outside of which a value is an outlier, from the column's present values."""
    if count == 0:
        return -np.inf, np.inf
    threshold = spec.effective_threshold
    if spec.method == "iqr":
        q1, q3 = exact.quantiles(scan, [0.25, 0.75], count=count, gather=gather)
        spread = q3 - q1
        return q1 - threshold * spread, q3 + threshold * spread
    # zscore: |x - mean| / std > threshold, with the population std (ddof=0) as scipy's zscore.
    mean, _ = exact.exact_mean(scan)
    std = math.sqrt(exact.squared_deviations(scan, mean) / count)
    return mean - threshold * std, mean + threshold * std


def _handle_outliers(
    rows: Rows, spec: Outliers, candidates: Sequence[str], counts: CleaningCounts, fitted: Fitted, budget: Budget
) -> None:
    spill = rows.spill
    columns = list(spec.columns) if spec.columns is not None else [c for c in candidates if spill.numeric(c)]
    unknown = [c for c in columns if c not in spill.columns]
    if unknown:
        raise SpecError(f"spec.cleaning.outliers.columns: columns not in the data: {unknown}")
    not_numeric = [c for c in columns if not spill.numeric(c)]
    if not_numeric:
        raise SpecError(f"spec.cleaning.outliers.columns: columns are not numeric: {not_numeric}")
    bounds = {}
    for c in columns:
        scan, count = rows.scan(c, as_floats, gather=budget.gather_values)
        bounds[c] = outlier_bounds(scan, count, spec, gather=budget.gather_values)
    if spec.action == "drop":

        def outside(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
            out = np.zeros(len(frame), dtype=bool)
            for c, (low, high) in bounds.items():
                out |= ((frame[c] < low) | (frame[c] > high)).to_numpy()
            return out

        counts.outliers_dropped += _drop_where(rows, columns, outside)
        return
    for c, (low, high) in bounds.items():
        if pd.api.types.is_integer_dtype(spill.types[c]) and np.isfinite(low) and np.isfinite(high):
            # Integer bounds keep an integer column integer (a count stays a count).
            low, high = float(np.ceil(low)), float(np.floor(high))
        if np.isfinite(low) and np.isfinite(high):
            fitted[c] = ColumnCleaning(lower=low, upper=high)
        counts.outliers_clipped += sum(int(((column < low) | (column > high)).sum()) for column in rows.column(c))
        rows.clip[c] = (low, high)


def fill_value_for(value: int | str | None, numeric: bool, name: str) -> Fill:
    """The constant `fillValue` as the column needs it: text for text, a number for numbers.

    The CRD types it int-or-string, so a fractional fill arrives as text ("0.5").
    """
    if not numeric:
        return str(value)
    if isinstance(value, int):
        return value
    try:
        number = float(str(value))
    except ValueError:
        number = math.nan  # refused below, with "nan" and "inf"
    if not math.isfinite(number):
        raise SpecError(f"spec.cleaning.missingValues.fillValue: {value!r} cannot fill numeric column {name!r}")
    return number


def _handle_missing(
    rows: Rows, spec: MissingValues, features: Sequence[str], counts: CleaningCounts, fitted: Fitted, budget: Budget
) -> None:
    spill = rows.spill
    if spec.strategy == "drop":
        counts.rows_dropped_missing += _drop_where(rows, features, lambda frame: frame.isna().any(axis=1).to_numpy())
        return
    counted = [c for c in features if not spill.numeric(c)] if spec.strategy != "constant" else []
    missing, frequencies = _missing_and_frequencies(rows, features, counted, budget)
    for c in features:
        # Fitted for every column, not only those missing here: a served row may miss any of them.
        numeric = spill.numeric(c)
        value: Fill | None
        if spec.strategy == "constant":
            value = fill_value_for(spec.fill_value, numeric, c)
        elif spec.strategy in ("mean", "median") and numeric:
            scan, count = rows.scan(c, as_floats, gather=budget.gather_values)
            if count == 0:
                value = math.nan  # as pandas: the mean of nothing
            elif spec.strategy == "mean":
                value = exact.exact_mean(scan)[0]
            else:
                value = exact.median(scan, count=count, gather=budget.gather_values)
        elif numeric:  # most_frequent
            scan, count = rows.scan(c, as_counted, gather=budget.gather_values)
            value = exact.mode(scan, count=count, gather=budget.gather_values)
        else:
            # most_frequent, and mean/median on a non-numeric column, which has no mean.
            value = _most_frequent(frequencies[c])
        if value is None:
            continue
        fitted[c] = fitted.get(c, ColumnCleaning()).model_copy(update={"fill": value})
        rows.fill[c] = value
        counts.values_imputed += missing[c]


def _most_frequent(frequencies: Mapping[str, int]) -> str | None:
    """The most frequent value, the smallest of those tied (pandas' `mode().iloc[0]`)."""
    if not frequencies:
        return None
    top = max(frequencies.values())
    return min(value for value, count in frequencies.items() if count == top)


def _missing_and_frequencies(
    rows: Rows, features: Sequence[str], counted: Sequence[str], budget: Budget
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Missing values per feature among the kept rows, and how often each value of the `counted` columns occurs."""
    missing = dict.fromkeys(features, 0)
    frequencies = CategoryCounts(counted, limit=budget.categories)
    for frame in rows.batches(features):
        for c in features:
            missing[c] += int(frame[c].isna().sum())
        frequencies.add(frame)
    return missing, frequencies.counts


class CategoryCounts:
    """How often each distinct value of some text columns occurs, in order of first appearance."""

    def __init__(self, columns: Sequence[str], *, limit: int) -> None:
        self.counts: dict[str, dict[str, int]] = {c: {} for c in columns}
        self.limit = limit
        self._held = 0

    def add(self, frame: pd.DataFrame) -> None:
        for name, counts in self.counts.items():
            before = len(counts)
            for value, count in frame[name].dropna().astype(str).value_counts(sort=False).items():
                counts[str(value)] = counts.get(str(value), 0) + int(count)
            self._held += len(counts) - before
            if self._held > self.limit:
                raise TooManyCategoriesError(
                    f"column {name!r} has too many distinct values to count within the memory prepare may use "
                    f"(more than {self.limit} over the text columns, {PREPARE_ENV_PREFIX}MEMORY_BYTES): "
                    "leave it out of spec.features, or drop it with spec.governance.piiColumns"
                )
