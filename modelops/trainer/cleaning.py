"""Cleaning steps of `prepare`: duplicates, outliers, missing values.

Order matters and is fixed: duplicates first (they would bias the statistics),
then outliers (computed on observed values only, before imputation could hide
them), then missing values (imputed from the de-outliered data). Rows missing
the target are always dropped: a label cannot be imputed.

Clipping bounds and fill values are fitted here, on the data, and returned with the cleaned
frame: the model's pipeline repeats them on every raw row it serves
(`modelops.artifacts.transformers`), so serving sees what training saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from modelops.api.dataset import Cleaning, MissingValues, Outliers
from modelops.artifacts.dataset_format import ColumnCleaning
from modelops.trainer.errors import SpecError

# feature -> the row-wise cleaning fitted on it
Fitted = dict[str, ColumnCleaning]


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


def is_numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))


def duplicate_rows(frame: pd.DataFrame) -> pd.Series:
    """Like `frame.duplicated()`, with far less memory on wide frames.

    DataFrame.duplicated factorizes every column into its own int64 array first;
    one 64-bit row hash finds the few candidate rows, and only those are compared
    exactly, so a hash collision can never drop a distinct row.
    """
    hashes = pd.util.hash_pandas_object(frame, index=False)
    suspects = hashes.duplicated(keep=False)
    duplicated = pd.Series(False, index=frame.index)
    if suspects.any():
        duplicated[suspects] = frame.loc[suspects].duplicated()
    return duplicated


def outlier_bounds(values: pd.Series, method: str, threshold: float) -> tuple[float, float]:
    """(low, high) outside of which a value is an outlier; NaNs are ignored."""
    from scipy import stats  # costs ~0.5 s to import; only outlier handling needs it

    observed = values.dropna().to_numpy(dtype=np.float64)
    if observed.size == 0:
        return -np.inf, np.inf
    if method == "iqr":
        q1, q3 = np.percentile(observed, [25, 75])
        spread = float(stats.iqr(observed))
        return float(q1 - threshold * spread), float(q3 + threshold * spread)
    # zscore: |x - mean| / std > threshold, with scipy's population std (ddof=0).
    mean, std = float(observed.mean()), float(observed.std())
    return mean - threshold * std, mean + threshold * std


def handle_outliers(
    frame: pd.DataFrame, spec: Outliers, candidates: Sequence[str], counts: CleaningCounts, fitted: Fitted
) -> pd.DataFrame:
    columns = list(spec.columns) if spec.columns is not None else [c for c in candidates if is_numeric(frame[c])]
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise SpecError(f"spec.cleaning.outliers.columns: columns not in the data: {unknown}")
    not_numeric = [c for c in columns if not is_numeric(frame[c])]
    if not_numeric:
        raise SpecError(f"spec.cleaning.outliers.columns: columns are not numeric: {not_numeric}")
    bounds = {c: outlier_bounds(frame[c], spec.method, spec.effective_threshold) for c in columns}
    if spec.action == "drop":
        keep = pd.Series(True, index=frame.index)
        for c, (low, high) in bounds.items():
            keep &= ~((frame[c] < low) | (frame[c] > high))
        counts.outliers_dropped += int((~keep).sum())
        return frame.loc[keep]
    clipped = frame  # in place: see clean()
    for c, (low, high) in bounds.items():
        column = frame[c]
        if pd.api.types.is_integer_dtype(column) and np.isfinite(low) and np.isfinite(high):
            # Integer bounds keep an integer column integer (a count stays a count).
            low, high = float(np.ceil(low)), float(np.floor(high))
        if np.isfinite(low) and np.isfinite(high):
            fitted[c] = ColumnCleaning(lower=low, upper=high)
        outside = int(((column < low) | (column > high)).sum())
        if outside:
            counts.outliers_clipped += outside
            clipped[c] = column.clip(low, high).astype(column.dtype)
    return clipped


def fill_value_for(value: int | str | None, column: pd.Series, name: str) -> int | float | str:
    """The constant `fillValue` as the column needs it: text for text, a number for numbers.

    The CRD types it int-or-string, so a fractional fill arrives as text ("0.5").
    """
    if not is_numeric(column):
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


def handle_missing(
    frame: pd.DataFrame, spec: MissingValues, columns: Sequence[str], counts: CleaningCounts, fitted: Fitted
) -> pd.DataFrame:
    missing = frame[list(columns)].isna()
    if spec.strategy == "drop":
        rows = missing.any(axis=1)
        counts.rows_dropped_missing += int(rows.sum())
        return frame.loc[~rows]
    filled = frame  # in place: see clean()
    for c in columns:
        # Fitted for every column, not only those missing here: a served row may miss any of them.
        column = frame[c]
        if spec.strategy == "constant":
            value = fill_value_for(spec.fill_value, column, c)
        elif spec.strategy in ("mean", "median") and is_numeric(column):
            value = column.mean() if spec.strategy == "mean" else column.median()
        else:
            # most_frequent, and mean/median on a non-numeric column, which has no mean.
            modes = column.mode(dropna=True)
            if modes.empty:
                continue
            value = modes.iloc[0]
        value = value.item() if isinstance(value, np.generic) else value
        fitted[c] = fitted.get(c, ColumnCleaning()).model_copy(update={"fill": value})
        n = int(missing[c].sum())
        if n == 0:
            continue
        if pd.api.types.is_integer_dtype(column) and isinstance(value, float) and not value.is_integer():
            filled[c] = column.astype(np.float64)
        filled[c] = filled[c].fillna(value)
        counts.values_imputed += n
    return filled


def clean(
    frame: pd.DataFrame, spec: Cleaning, *, features: Sequence[str], target: str | None
) -> tuple[pd.DataFrame, CleaningCounts, Fitted]:
    """The cleaned frame, what was done, and the fitted row-wise cleaning per feature.

    Clipped and imputed columns are replaced in `frame` itself: with the caller still holding
    it, a copy would keep the old and the new columns alive together (twice the data at peak)."""
    counts = CleaningCounts()
    fitted: Fitted = {}
    if spec.drop_duplicates:
        duplicated = duplicate_rows(frame)
        counts.duplicates_dropped = int(duplicated.sum())
        if counts.duplicates_dropped:
            frame = frame.loc[~duplicated]
    if target is not None:
        unlabeled = frame[target].isna()
        if unlabeled.any():
            counts.extra["rows_dropped_missing_target"] = int(unlabeled.sum())
            frame = frame.loc[~unlabeled]
    if spec.outliers is not None:
        frame = handle_outliers(frame, spec.outliers, features, counts, fitted)
    if spec.missing_values is not None:
        frame = handle_missing(frame, spec.missing_values, features, counts, fitted)
    return frame.reset_index(drop=True), counts, fitted
