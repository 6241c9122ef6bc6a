"""Checks that the label column can be learned by the task asked for, before any split or fit.

Each names the real problem in words the Dataset's owner can act on. Left to scikit-learn, a
single class fits a constant model that later aborts ONNX Runtime (SIGABRT, no message, retried),
and a continuous label handed to a classifier surfaces as "too few rows for a stratified split".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelops.artifacts.metadata import Task
from modelops.trainer.errors import BadInputError, QualityGateError
from modelops.trainer.quality import infinite_values

# A numeric label with more distinct values than this, and than half the rows, is a quantity.
MAX_CLASSES = 20


def looks_continuous(y: pd.Series) -> bool:
    """Fractional numbers, or so many distinct numbers that most classes would hold one row."""
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return False
    observed = y.dropna()
    if pd.api.types.is_float_dtype(observed) and not np.all(np.mod(observed.to_numpy(), 1) == 0):
        return True
    distinct = observed.nunique()
    return bool(distinct > MAX_CLASSES and distinct > len(observed) / 2)


def check_classes(y: pd.Series, target: str, where: str) -> None:
    """A classifier needs a label with at least two classes, in the data and in its training split."""
    classes = int(y.nunique(dropna=True))
    if classes < 2:
        raise BadInputError(
            f"target {target!r} has {classes} class in {where} ({len(y)} rows): a classifier needs at least two"
        )


def check_target(y: pd.Series, target: str, task: Task) -> None:
    if task != "classification":
        return
    if looks_continuous(y):
        raise BadInputError(
            f"spec.task: classification needs class labels, but target {target!r} holds continuous values "
            f"({y.nunique()} distinct in {len(y)} rows); use task regression (and a regression algorithm), "
            "or bin the target in the Dataset"
        )
    check_classes(y, target, "the dataset")


def check_finite(frame: pd.DataFrame, columns: list[str]) -> None:
    """A stored dataset written before infinities were refused at ingestion is refused here."""
    if failures := infinite_values(frame, columns):
        raise QualityGateError(failures)
