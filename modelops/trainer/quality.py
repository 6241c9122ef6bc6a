"""Data-quality gates of `prepare`; every failure names its check, its column and a count.

Never a value from the data: a failure reaches the Dataset's status, readable by anyone who may
read the Dataset, and the data may hold what they must not see.

`maxMissingFraction` looks at the data as it arrived (imputation would hide
the problem it guards against); the other gates look at the cleaned data
that would be stored, batch by batch (`QualityGates.add`): each gate is a count or a
"did every value pass", so the batches add up to the verdict on the whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from modelops.api.dataset import ColumnRule, DataValidation
from modelops.trainer.cleaning import is_numeric, is_numeric_dtype
from modelops.trainer.columns import Dtype
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


class _ColumnGate:
    """One `validation.columns[]` rule, judged batch by batch."""

    def __init__(self, rule: ColumnRule, dtype: Dtype) -> None:
        self.rule = rule
        self.dtype = dtype
        self.all_typed = True  # every present value so far is of the expected type
        self.below = self.above = self.outside = 0

    def add(self, column: pd.Series) -> None:
        rule, observed = self.rule, column.dropna()
        if rule.type == "integer" and is_numeric(column):
            self.all_typed &= bool(np.all(np.mod(observed.to_numpy(dtype=np.float64), 1) == 0))
        elif rule.type == "boolean" and not pd.api.types.is_bool_dtype(column):
            self.all_typed &= bool(observed.isin([0, 1, True, False]).all())
        if is_numeric(column):
            if rule.min is not None:
                self.below += int((column < rule.min).sum())
            if rule.max is not None:
                self.above += int((column > rule.max).sum())
        if rule.allowed_values is not None:
            allowed = set(rule.allowed_values)
            # The allowed values are text (see ColumnRule); 1 and 1.0 in the data both match "1".
            as_text = observed.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
            self.outside += int((~as_text.isin(allowed)).sum())

    def _type_failure(self) -> str | None:
        expected, numeric = self.rule.type, is_numeric_dtype(self.dtype)
        if expected == "number":
            ok = numeric
        elif expected in ("integer", "boolean"):
            ok = (numeric or expected == "boolean") and self.all_typed
        else:  # category / string
            ok = not numeric or pd.api.types.is_integer_dtype(self.dtype)
        return None if ok else f"values are not {expected} (dtype {self.dtype})"

    def failures(self) -> list[str]:
        rule = self.rule
        where = f"validation.columns[{rule.name}]"
        failures = []
        if rule.type is not None and (problem := self._type_failure()):
            failures.append(f"{where}.type: column {rule.name!r}: {problem}")
        if rule.min is not None or rule.max is not None:
            if not is_numeric_dtype(self.dtype):
                failures.append(f"{where}: column {rule.name!r} is not numeric, min/max cannot apply")
            else:
                if rule.min is not None and self.below:
                    failures.append(f"{where}.min: column {rule.name!r} has {self.below} values below {rule.min:g}")
                if rule.max is not None and self.above:
                    failures.append(f"{where}.max: column {rule.name!r} has {self.above} values above {rule.max:g}")
        if rule.allowed_values is not None and self.outside:
            failures.append(
                f"{where}.allowedValues: column {rule.name!r} has {self.outside} values outside the allowed set"
            )
        return failures


class QualityGates:
    """The gates of `spec` on the cleaned data, fed batch by batch; `check` raises on any failure."""

    def __init__(self, spec: DataValidation, types: Mapping[str, Dtype]) -> None:
        """`types`: each column of the cleaned data and its dtype."""
        self.spec = spec
        self.rows = 0
        self.unknown = [rule for rule in spec.columns if rule.name not in types]
        self.gates = [_ColumnGate(rule, types[rule.name]) for rule in spec.columns if rule.name in types]

    def add(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        for gate in self.gates:
            gate.add(frame[gate.rule.name])

    def check(self, raw_missing: Mapping[str, float]) -> None:
        """Raise QualityGateError listing every failed gate."""
        failures = check_missing(raw_missing, self.spec.max_missing_fraction)
        if self.spec.min_rows is not None and self.rows < self.spec.min_rows:
            failures.append(f"validation.minRows: {self.rows} rows after cleaning (min {self.spec.min_rows})")
        unknown = {rule.name for rule in self.unknown}
        for rule in self.spec.columns:
            if rule.name in unknown:
                failures.append(f"validation.columns[{rule.name}]: column {rule.name!r} is not in the data")
            else:
                failures.extend(next(g for g in self.gates if g.rule is rule).failures())
        if failures:
            raise QualityGateError(failures)


def check_quality(raw_missing: Mapping[str, float], cleaned: pd.DataFrame, spec: DataValidation) -> None:
    """The gates on a cleaned frame held in memory."""
    gates = QualityGates(spec, {str(c): cleaned[c].dtype for c in cleaned.columns})
    gates.add(cleaned)
    gates.check(raw_missing)


def infinite_counts(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, int]:
    """+-inf values per float column (a CSV's `inf`, or `1e400`, beyond float range)."""
    counts = {}
    for name in columns:
        column = frame[name]
        # Only a float column can hold infinity.
        if pd.api.types.is_float_dtype(column) and (count := int(np.isinf(column.to_numpy(na_value=np.nan)).sum())):
            counts[name] = count
    return counts


def infinite_failures(counts: Mapping[str, int]) -> list[str]:
    """One failure per numeric column holding +-inf.

    No estimator accepts infinity, and no cleaning step can mend it: clipping bounds and means become
    infinite themselves. Refused here, the data's owner hears which column; let through, the fit
    would fail deep inside scikit-learn.
    """
    return [
        f"column {name!r} has {count} infinite values (inf, -inf, or beyond float range)"
        for name, count in counts.items()
        if count
    ]


def infinite_values(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return infinite_failures(infinite_counts(frame, columns))
