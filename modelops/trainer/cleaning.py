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

from modelops.api.dataset import Cleaning, Outliers
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
class Values:
    """A column's present values among the kept rows, cleaned as far as the plan goes, and how many are missing.

    Held in memory when they fit (`held`), else read again from the spill on every scan.
    """

    held: list[exact.Values] | None
    reread: exact.Scan
    count: int
    missing: int

    def scan(self) -> exact.Scan:
        return exact.held(*self.held) if self.held is not None else self.reread

    def floats(self) -> exact.Scan:
        """Scan as float64, as the statistics of numbers (all but a mode) are computed."""
        scan = self.scan()
        return lambda: (np.asarray(part, dtype=np.float64) for part in scan())

    def counted(self) -> exact.Scan:
        """Scan as a mode counts: -0.0 as 0.0, one value to pandas (two keys to `exact`)."""
        scan = self.scan()

        def counted() -> Iterator[exact.Values]:
            for part in scan():
                yield np.add(part, 0.0) if part.dtype == np.float64 else part

        return counted

    def outside(self, low: float, high: float) -> int:
        return sum(int(((part < low) | (part > high)).sum()) for part in self.scan()())


@dataclass
class Rows:
    """The rows a step of cleaning keeps, and what the steps so far did to their values."""

    spill: Spill
    keep: RowMask
    clip: dict[str, tuple[float, float]] = field(default_factory=dict)
    fill: dict[str, Fill] = field(default_factory=dict)

    def clean_column(self, column: pd.Series) -> pd.Series:
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
            keep = self.keep.batch(index)
            if not keep.all():
                frame = frame[keep]
            changed = {name: self.clean_column(frame[name]) for name in frame.columns if self._cleans(name)}
            yield frame.assign(**changed) if changed else frame

    def _cleans(self, name: str) -> bool:
        return name in self.clip or name in self.fill

    def values(self, name: str, *, gather: int) -> Values:
        """The column's present values: integers as int64, other numbers as float64."""
        missing = 0

        def read() -> Iterator[exact.Values]:
            nonlocal missing
            missing = 0
            for frame in self.batches([name]):
                column = frame[name]
                missing += int(column.isna().sum())
                present = column.dropna()
                if pd.api.types.is_integer_dtype(column):
                    yield present.to_numpy(dtype=np.int64)
                else:
                    yield present.to_numpy(dtype=np.float64)

        held: list[exact.Values] | None = []
        count = 0
        for part in read():
            count += part.size
            if held is not None and count <= gather:
                held.append(part)
            else:
                held = None
        return Values(held=held, reread=read, count=count, missing=missing)

    def clip_values(self, name: str, values: Values, *, gather: int) -> Values:
        """`values` of column `name` once its clipping (now in `clip`) applies."""
        if values.held is None:
            return self.values(name, gather=gather)
        low, high = self.clip[name]
        # Integer bounds for an integer column: its values stay exact integers.
        values.held[:] = [_clipped(part, low, high) for part in values.held]
        return values


def _clipped(part: exact.Values, low: float, high: float) -> exact.Values:
    if part.dtype == np.int64:
        return np.clip(part, low, high).astype(np.int64)
    return np.clip(part, low, high).astype(np.float64)


def as_floats(column: pd.Series) -> npt.NDArray[np.float64]:
    return column.to_numpy(dtype=np.float64)


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
    """The plan that cleans the spilled data as `spec` says: fitted on it, not yet applied.

    Each numeric column is read once for all its statistics when no row is dropped in between
    (outliers clipped, missing values filled): its bounds, the values they clip, its fill value.
    """
    counts = CleaningCounts()
    rows = Rows(spill, RowMask(spill.sizes))
    gather = budget.gather_values
    if spec.drop_duplicates:
        duplicated = duplicate_rows(spill, scratch / "fingerprints", sort_rows=budget.dedup_rows)
        counts.duplicates_dropped = int(duplicated.size)
        rows.keep.drop_rows(duplicated)
    if target is not None:
        unlabeled = _drop_where(rows, [target], lambda frame: frame[target].isna().to_numpy())
        if unlabeled:
            counts.extra["rows_dropped_missing_target"] = unlabeled
    outliers, missing = spec.outliers, spec.missing_values
    clipped = _outlier_columns(spill, outliers, features) if outliers is not None else []
    bounds: dict[str, tuple[float, float]] = {}
    if outliers is not None and outliers.action == "drop":
        for c in clipped:
            bounds[c] = outlier_bounds(rows.values(c, gather=gather), outliers, gather=gather)
        counts.outliers_dropped += _drop_where(rows, clipped, _outside(bounds))
        clipped = []
    strategy = missing.strategy if missing is not None else None
    numeric_fills = [c for c in features if spill.numeric(c)] if strategy in ("mean", "median", "most_frequent") else []
    fills: dict[str, Fill] = {}
    for c in dict.fromkeys([*clipped, *numeric_fills]):
        values = rows.values(c, gather=gather)
        if c in clipped:
            assert outliers is not None
            low, high = _clip_bounds(outlier_bounds(values, outliers, gather=gather), integer=_integer(spill, c))
            bounds[c] = (low, high)
            counts.outliers_clipped += values.outside(low, high)
            rows.clip[c] = (low, high)
            values = rows.clip_values(c, values, gather=gather)
        if c in numeric_fills:
            assert strategy is not None
            value = _statistic(values, strategy, gather=gather)
            if value is not None:
                fills[c] = value
                counts.values_imputed += values.missing
    if strategy == "drop":
        counts.rows_dropped_missing += _drop_where(rows, features, lambda frame: frame.isna().any(axis=1).to_numpy())
    elif missing is not None:
        others = [c for c in features if c not in numeric_fills]
        counted = [c for c in others if strategy != "constant"]  # text columns: their mode
        missing_counts, frequencies = _missing_and_frequencies(rows, others, counted, budget)
        for c in others:
            value = (
                fill_value_for(missing.fill_value, spill.numeric(c), c)
                if strategy == "constant"
                else _most_frequent(frequencies[c])
            )
            if value is not None:
                fills[c] = value
                counts.values_imputed += missing_counts[c]
    rows.fill.update((c, fills[c]) for c in features if c in fills)
    fitted: Fitted = {
        c: ColumnCleaning(lower=low, upper=high)
        for c, (low, high) in bounds.items()
        if c in rows.clip and np.isfinite(low) and np.isfinite(high)
    }
    for c in features:
        if c in fills:
            # Fitted for every column, not only those missing here: a served row may miss any of them.
            fitted[c] = fitted.get(c, ColumnCleaning()).model_copy(update={"fill": fills[c]})
    return CleaningPlan(rows=rows, counts=counts, fitted=fitted)


def _integer(spill: Spill, column: str) -> bool:
    return bool(pd.api.types.is_integer_dtype(spill.types[column]))


def _clip_bounds(bounds: tuple[float, float], *, integer: bool) -> tuple[float, float]:
    low, high = bounds
    if integer and np.isfinite(low) and np.isfinite(high):
        # Integer bounds keep an integer column integer (a count stays a count).
        return float(np.ceil(low)), float(np.floor(high))
    return low, high


def _outside(bounds: Mapping[str, tuple[float, float]]) -> Callable[[pd.DataFrame], npt.NDArray[np.bool_]]:
    def outside(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
        out = np.zeros(len(frame), dtype=bool)
        for c, (low, high) in bounds.items():
            out |= ((frame[c] < low) | (frame[c] > high)).to_numpy()
        return out

    return outside


def _drop_where(rows: Rows, columns: Sequence[str], dropped: Callable[[pd.DataFrame], npt.NDArray[np.bool_]]) -> int:
    """Clear the kept rows for which `dropped` (of their `columns`, cleaned so far) is true; how many."""
    total = 0
    for index, frame in enumerate(rows.batches(columns)):
        drop = dropped(frame)
        if drop.any():
            total += int(drop.sum())
            keep = rows.keep.batch(index)
            keep[np.flatnonzero(keep)[drop]] = False
            rows.keep.set_batch(index, keep)
    return total


def outlier_bounds(values: Values, spec: Outliers, *, gather: int) -> tuple[float, float]:
    """(low, high) outside of which a value is an outlier, from the column's present values."""
    count, scan = values.count, values.floats()
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


def _outlier_columns(spill: Spill, spec: Outliers, candidates: Sequence[str]) -> list[str]:
    columns = list(spec.columns) if spec.columns is not None else [c for c in candidates if spill.numeric(c)]
    unknown = [c for c in columns if c not in spill.columns]
    if unknown:
        raise SpecError(f"spec.cleaning.outliers.columns: columns not in the data: {unknown}")
    not_numeric = [c for c in columns if not spill.numeric(c)]
    if not_numeric:
        raise SpecError(f"spec.cleaning.outliers.columns: columns are not numeric: {not_numeric}")
    return columns


def _statistic(values: Values, strategy: str, *, gather: int) -> Fill | None:
    """A numeric column's fill: its mean, median or most frequent value (NaN for the mean of nothing, as pandas)."""
    if strategy == "most_frequent":
        return exact.mode(values.counted(), count=values.count, gather=gather)
    if values.count == 0:
        return math.nan
    if strategy == "mean":
        return exact.exact_mean(values.floats())[0]
    return exact.median(values.floats(), count=values.count, gather=gather)


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
