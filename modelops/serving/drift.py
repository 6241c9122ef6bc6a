"""Input drift against the training profile shipped with the model: PSI per feature, KS for numbers.

The request path only copies the validated rows into a fixed ring buffer (the
sliding window: one row copy, no allocation). The statistics are computed from
that window when asked (at scrape time, cached briefly by the caller):

- PSI over the reference bins of the profile: numeric features use the
  training `bin_edges` (values outside the training range count in the first or
  last bin), categorical and boolean features the training categories plus one
  bucket for unseen ones (the profile's own long-tail bucket when it has one).
  Both sides are smoothed by half a count per bin, so an empty bin does not
  make PSI infinite.
- KS (scipy's one-sample `kstest`) for `number` features against the training
  distribution rebuilt from its histogram (piecewise-linear CDF through the bin
  edges). Integer and boolean features are skipped: a step distribution makes
  a continuous KS reference meaningless.

Missing values are left out of both statistics (imputation is the pipeline's
job; a change in missingness shows in the data-quality metrics, not here).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from modelops.artifacts.metadata import (
    OTHER_CATEGORY,
    CategoricalProfile,
    DatasetProfile,
    FeatureSchema,
    NumericProfile,
)
from modelops.contract.monitoring import DriftMethod, is_drifted

Matrix = npt.NDArray[Any]
_SMOOTHING = 0.5
_UNSEEN = "\x00unseen"


def psi(expected_counts: npt.ArrayLike, actual_counts: npt.ArrayLike) -> float:
    """Population stability index of `actual` against `expected` over the same bins."""
    expected = np.asarray(expected_counts, dtype=np.float64) + _SMOOTHING
    actual = np.asarray(actual_counts, dtype=np.float64) + _SMOOTHING
    e = expected / expected.sum()
    a = actual / actual.sum()
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks_statistic: float | None
    ks_pvalue: float | None

    def statistic(self, method: DriftMethod) -> float | None:
        """The value `method` judges this feature by (None: KS of a non-`number` feature)."""
        return self.psi if method == "psi" else self.ks_statistic


@dataclass(frozen=True)
class DriftReport:
    """Drift of the current window under the configured method and threshold.

    Each method's score is its largest per-feature statistic, so the score is over the
    threshold exactly when at least one feature is (`drifted` names them).
    """

    rows: int
    features: tuple[FeatureDrift, ...]
    psi_score: float
    ks_score: float | None
    method: DriftMethod
    threshold: float
    drifted: tuple[str, ...]

    @property
    def score(self) -> float | None:
        return self.psi_score if self.method == "psi" else self.ks_score


@dataclass(frozen=True)
class _NumericReference:
    column: int  # index in the model's feature order
    name: str
    edges: Matrix  # n+1 increasing edges
    counts: Matrix
    interior: Matrix  # edges[1:-1], for searchsorted
    cdf: Matrix | None  # cumulative fraction at each edge; None = no KS for this feature


@dataclass(frozen=True)
class _CategoricalReference:
    column: int
    name: str
    categories: dict[str, int]  # category -> bin
    counts: Matrix  # reference counts
    unseen: int  # bin of categories the profile does not list
    boolean: bool  # profiled as "True"/"False", served as 0.0/1.0

    def bin_of(self, value: Any) -> int | None:
        if self.boolean:
            if value != value:  # NaN: missing
                return None
            value = "True" if value else "False"
        return self.categories.get(str(value), self.unseen)


class DriftMonitor:
    """Keeps the last `window` rows and compares them with the training profile."""

    def __init__(
        self,
        features: Sequence[FeatureSchema],
        profile: DatasetProfile,
        *,
        window: int,
        method: DriftMethod,
        threshold: float,
    ) -> None:
        self.window = window
        self.method = method
        self.threshold = threshold
        self._numeric: list[_NumericReference] = []
        self._categorical: list[_CategoricalReference] = []
        for column, feature in enumerate(features):
            reference = profile.features.get(feature.name)
            if isinstance(reference, NumericProfile) and feature.type != "category":
                numeric = _numeric_reference(column, feature, reference)
                if numeric is not None:
                    self._numeric.append(numeric)
            elif isinstance(reference, CategoricalProfile) and reference.frequencies:
                self._categorical.append(_categorical_reference(column, feature, reference))
        self._numeric_columns = np.array([r.column for r in self._numeric], dtype=np.intp)
        self._all_columns = len(self._numeric) == len(features) and bool(
            np.array_equal(self._numeric_columns, np.arange(len(features)))
        )
        self._values = np.full((window, len(self._numeric)), np.nan, dtype=np.float64)
        self._categories = np.full((window, len(self._categorical)), None, dtype=object)
        self._position = 0
        self._filled = 0

    @property
    def features(self) -> list[str]:
        return [r.name for r in self._numeric] + [r.name for r in self._categorical]

    @property
    def rows(self) -> int:
        """Rows currently in the window."""
        return self._filled

    def observe(self, matrix: Matrix) -> None:
        """Copy validated rows into the window (the only work on the request path)."""
        rows = matrix.shape[0]
        if rows == 1 and self._all_columns and matrix.dtype == np.float64:
            # The common case, a single all-numeric row: one row copy, nothing allocated.
            self._values[self._position] = matrix[0]
            self._position = (self._position + 1) % self.window
            if self._filled < self.window:
                self._filled += 1
            return
        if rows > self.window:
            matrix = matrix[-self.window :]
            rows = self.window
        numeric = matrix[:, self._numeric_columns].astype(np.float64) if self._numeric else None
        categorical = matrix[:, [r.column for r in self._categorical]] if self._categorical else None
        start = self._position
        first = min(rows, self.window - start)
        if numeric is not None:
            self._values[start : start + first] = numeric[:first]
            self._values[: rows - first] = numeric[first:]
        if categorical is not None:
            self._categories[start : start + first] = categorical[:first]
            self._categories[: rows - first] = categorical[first:]
        self._position = (start + rows) % self.window
        self._filled = min(self.window, self._filled + rows)

    def report(self) -> DriftReport:
        """PSI (and KS) of every profiled feature over the current window."""
        results: list[FeatureDrift] = []
        filled = self._filled
        for k, numeric in enumerate(self._numeric):
            values = self._values[:filled, k]
            values = values[~np.isnan(values)]
            if values.size == 0:
                continue
            bins = np.searchsorted(numeric.interior, values, side="right")
            counts = np.bincount(bins, minlength=numeric.counts.size)
            ks_statistic = ks_p = None
            if numeric.cdf is not None:
                # Asymptotic p-value: windows hold hundreds of rows, where it matches the exact
                # one to the decision and costs less.
                reference = functools.partial(np.interp, xp=numeric.edges, fp=numeric.cdf)
                result = stats.kstest(values, reference, method="asymp")
                ks_statistic, ks_p = float(result.statistic), float(result.pvalue)
            results.append(FeatureDrift(numeric.name, psi(numeric.counts, counts), ks_statistic, ks_p))
        for k, categorical in enumerate(self._categorical):
            bins_c = (categorical.bin_of(v) for v in self._categories[:filled, k] if v is not None)
            seen = Counter(b for b in bins_c if b is not None)
            if not seen:
                continue
            counts_c = np.zeros(categorical.counts.size)
            for index, count in seen.items():
                counts_c[index] += count
            results.append(FeatureDrift(categorical.name, psi(categorical.counts, counts_c), None, None))
        ks_values = [r.ks_statistic for r in results if r.ks_statistic is not None]
        drifted = tuple(
            r.feature
            for r in results
            if (value := r.statistic(self.method)) is not None and is_drifted(value, self.threshold)
        )
        return DriftReport(
            rows=filled,
            features=tuple(results),
            psi_score=max((r.psi for r in results), default=0.0),
            ks_score=max(ks_values) if ks_values else None,
            method=self.method,
            threshold=self.threshold,
            drifted=drifted,
        )


def _numeric_reference(column: int, feature: FeatureSchema, profile: NumericProfile) -> _NumericReference | None:
    edges = np.asarray(profile.bin_edges, dtype=np.float64)
    counts = np.asarray(profile.bin_counts, dtype=np.float64)
    if edges.size < 2 or counts.size != edges.size - 1 or not np.all(np.isfinite(edges)):
        return None
    total = counts.sum()
    cdf: Matrix | None = None
    if feature.type == "number" and total > 0 and edges[-1] > edges[0]:
        cdf = np.concatenate([[0.0], np.cumsum(counts) / total])
    return _NumericReference(column, feature.name, edges, counts, edges[1:-1], cdf)


def _categorical_reference(column: int, feature: FeatureSchema, profile: CategoricalProfile) -> _CategoricalReference:
    names = sorted(profile.frequencies)
    counts = [float(profile.frequencies[n]) for n in names]
    categories = {n: i for i, n in enumerate(names)}
    if OTHER_CATEGORY in categories:
        # The profile lumped its long tail there; unseen values belong to the same tail.
        unseen = categories[OTHER_CATEGORY]
    else:
        unseen = len(counts)
        counts.append(0.0)
    return _CategoricalReference(
        column, feature.name, categories, np.asarray(counts), unseen, boolean=feature.type == "boolean"
    )
