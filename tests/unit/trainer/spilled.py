"""Frames spilled as `prepare` spills its source, and cleaned as it cleans them, in one batch or in many."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from modelops.api.dataset import Cleaning
from modelops.trainer.budget import Budget
from modelops.trainer.cleaning import CleaningCounts, Fitted, fit_cleaning
from modelops.trainer.spill import Spill

# Everything in one batch and in memory, as for any small dataset.
WHOLE = Budget.of(1024**3)
# Batches of a few rows, statistics by radix passes over the spill, duplicates sorted in partitions:
# what a dataset far larger than memory goes through, on a frame of a few rows.
TINY = Budget(batch_cells=6, gather_values=2, dedup_rows=3, categories=1000)
BUDGETS = {"whole": WHOLE, "tiny": TINY}


def spill_frame(frame: pd.DataFrame, directory: Path, *, budget: Budget) -> Spill:
    """`frame` spilled in batches of about `budget.batch_cells` values, sealed."""
    directory.mkdir(parents=True, exist_ok=True)
    spill = Spill(directory, [str(c) for c in frame.columns])
    size = max(1, budget.batch_cells // max(1, len(frame.columns)))
    for start in range(0, max(1, len(frame)), size):
        spill.append(frame.iloc[start : start + size])
    spill.seal()
    return spill


def clean_frame(
    frame: pd.DataFrame,
    spec: Cleaning,
    *,
    features: Sequence[str],
    target: str | None,
    budget: Budget,
    directory: Path,
) -> tuple[pd.DataFrame, CleaningCounts, Fitted]:
    """The cleaned rows, the counts and the fitted row-wise cleaning, as `prepare` makes them."""
    spill = spill_frame(frame, directory / "spill", budget=budget)
    plan = fit_cleaning(spill, spec, features=features, target=target, budget=budget, scratch=directory)
    cleaned = pd.concat(list(plan.rows.batches()), ignore_index=True)
    return cleaned, plan.counts, plan.fitted
