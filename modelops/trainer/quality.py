"""Data-quality gates of `prepare`; every failure names its check, its column and a count.

Never a value from the data: a failure reaches the Dataset's status, readable by anyone who may
read the Dataset, and the data may hold what they must not see.

`maxMissingFraction` looks at the data as it arrived (imputation would hide
the problem it guards against); the other gates look at the cleaned data
that would be stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from modelops.api.dataset import ColumnRule, DataValidation
from modelops.trainer.cleaning import is_numeric
from modelops.trainer.errors import QualityGateError


def check_missing(raw_missing: Mapping[str, float], limit: float | None) -> list[str]:
    """`raw_missing`: column -> fraction of missing values as ingested."""
    if limit is None:
        return []
    return [
        f"validation.maxMissingFraction: column {column!r} has {fraction:.1%} missing values (max {limit:.1%})"
        for column, fraction in raw_missing.items()
        if fraction > limit
    ]


def missing_fractions(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    if len(frame) == 0:
        return dict.fromkeys(columns, 0.0)
    return {str(c): float(v) for c, v in frame[list(columns)].isna().mean().items()}


def _type_failure(column: pd.Series, expected: str) -> str | None:
    observed = column.dropna()
    if expected == "number":
        ok = is_numeric(column)
    elif expected == "integer":
        ok = is_numeric(column) and bool(np.all(np.mod(observed.to_numpy(dtype=np.float64), 1) == 0))
    elif expected == "boolean":
        ok = pd.api.types.is_bool_dtype(column) or bool(observed.isin([0, 1, True, False]).all())
    else:  # category / string
        ok = not is_numeric(column) or pd.api.types.is_integer_dtype(column)
    return None if ok else f"values are not {expected} (dtype {column.dtype})"


def check_column(frame: pd.DataFrame, check: ColumnRule) -> list[str]:
    where = f"validation.columns[{check.name}]"
    if check.name not in frame.columns:
        return [f"{where}: column {check.name!r} is not in the data"]
    column = frame[check.name]
    failures = []
    if check.type is not None and (problem := _type_failure(column, check.type)):
        failures.append(f"{where}.type: column {check.name!r}: {problem}")
    if check.min is not None or check.max is not None:
        if not is_numeric(column):
            failures.append(f"{where}: column {check.name!r} is not numeric, min/max cannot apply")
        else:
            if check.min is not None and (below := column[column < check.min]).size:
                failures.append(f"{where}.min: column {check.name!r} has {below.size} values below {check.min:g}")
            if check.max is not None and (above := column[column > check.max]).size:
                failures.append(f"{where}.max: column {check.name!r} has {above.size} values above {check.max:g}")
    if check.allowed_values is not None:
        observed = column.dropna()
        allowed = set(check.allowed_values)
        # The allowed values are text (see ColumnRule); 1 and 1.0 in the data both match "1".
        as_text = observed.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
        bad = observed[~as_text.isin(allowed)]
        if bad.size:
            failures.append(
                f"{where}.allowedValues: column {check.name!r} has {bad.size} values outside the allowed set"
            )
    return failures


def infinite_values(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """One failure per numeric column holding +-inf (a CSV's `inf`, or `1e400`, beyond float range).

    No estimator accepts infinity, and no cleaning step can mend it: clipping bounds and means become
    infinite themselves. Refused here, the data's owner hears which column; let through, the fit
    would fail deep inside scikit-learn.
    """
    failures = []
    for name in columns:
        column = frame[name]
        # Only a float column can hold infinity.
        if pd.api.types.is_float_dtype(column) and (count := int(np.isinf(column.to_numpy(na_value=np.nan)).sum())):
            failures.append(f"column {name!r} has {count} infinite values (inf, -inf, or beyond float range)")
    return failures


def check_quality(raw_missing: Mapping[str, float], cleaned: pd.DataFrame, spec: DataValidation) -> None:
    """Raise QualityGateError listing every failed gate."""
    failures = check_missing(raw_missing, spec.max_missing_fraction)
    if spec.min_rows is not None and len(cleaned) < spec.min_rows:
        failures.append(f"validation.minRows: {len(cleaned)} rows after cleaning (min {spec.min_rows})")
    for check in spec.columns:
        failures.extend(check_column(cleaned, check))
    if failures:
        raise QualityGateError(failures)
