"""The rows `train` fits on when a dataset has more than `spec.split.maxRows`.

A seeded sample without replacement, drawn from the label column alone (read before any
feature), so that only the sampled rows of the needed columns are ever read. Stratified, each
class keeps its share of the rows: floor(count * limit / rows), the rows left over going to the
classes with the largest remainders (ties to the class seen first). The same data, limit and
seed always give the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd


@dataclass(frozen=True)
class Sample:
    rows: npt.NDArray[np.int64]  # sorted row numbers
    of: int  # the dataset's rows
    seed: int
    stratified: bool

    def metrics(self) -> dict[str, Any]:
        """What status.metrics.sample and metadata.json's metrics say about it."""
        return {"rows": int(self.rows.size), "of": self.of, "seed": self.seed, "stratified": self.stratified}


def sample_rows(total: int, limit: int, *, seed: int, labels: pd.Series | None = None) -> Sample:
    """`limit` of `total` row numbers, sorted; stratified on `labels` (one per row) when given."""
    if limit >= total:
        return Sample(np.arange(total, dtype=np.int64), total, seed, stratified=False)
    rng = np.random.default_rng(seed)
    if labels is None:
        chosen = rng.choice(total, size=limit, replace=False)
        return Sample(np.sort(chosen).astype(np.int64), total, seed, stratified=False)
    if len(labels) != total:
        raise ValueError(f"{len(labels)} labels for {total} rows")
    codes, _ = pd.factorize(labels, use_na_sentinel=False)
    counts = np.bincount(codes)
    quotas = _quotas(counts, limit)
    order = np.argsort(codes, kind="stable")  # row numbers grouped by class, in row order within each
    starts = np.concatenate([[0], np.cumsum(counts)])
    parts = [
        rng.choice(order[starts[c] : starts[c + 1]], size=int(quota), replace=False)
        for c, quota in enumerate(quotas)
        if quota
    ]
    return Sample(np.sort(np.concatenate(parts)).astype(np.int64), total, seed, stratified=True)


def _quotas(counts: npt.NDArray[np.int64], limit: int) -> npt.NDArray[np.int64]:
    """Largest remainder: proportional to `counts`, summing to `limit` exactly."""
    total = int(counts.sum())
    exact = counts.astype(object) * limit  # integers: no rounding before the division
    quotas = np.array([int(e // total) for e in exact], dtype=np.int64)
    remainders = np.array([int(e % total) for e in exact], dtype=np.int64)
    left = limit - int(quotas.sum())
    quotas[np.argsort(-remainders, kind="stable")[:left]] += 1
    return quotas
