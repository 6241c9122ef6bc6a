"""Seeded train / validation / test split, stratified on the label where it applies."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from modelops.api import trainingrun
from modelops.artifacts.metadata import Task
from modelops.trainer.errors import BadInputError


@dataclass(frozen=True)
class Split:
    X: pd.DataFrame
    y: pd.Series | None


@dataclass(frozen=True)
class Splits:
    train: Split
    validation: Split | None
    test: Split

    def items(self) -> list[tuple[str, Split]]:
        named = [("train", self.train), ("validation", self.validation), ("test", self.test)]
        return [(name, split) for name, split in named if split is not None]


def split_data(
    frame: pd.DataFrame, *, features: list[str], target: str | None, task: Task, spec: trainingrun.Split
) -> Splits:
    """Two seeded cuts: test off the whole, then validation off the rest (same proportions as the spec)."""
    X = frame[features]
    y = frame[target] if target is not None and task != "clustering" else None
    stratify = task == "classification" if spec.stratify is None else spec.stratify
    if stratify and (y is None or task != "classification"):
        raise BadInputError("spec.split.stratify: stratification needs a classification target")
    try:
        X_rest, X_test, y_rest, y_test = _cut(X, y, spec.test, spec.seed, stratify)
        validation: Split | None = None
        if spec.validation > 0:
            share = spec.validation / (spec.train + spec.validation)
            X_train, X_val, y_train, y_val = _cut(X_rest, y_rest, share, spec.seed, stratify)
            validation = Split(X_val, y_val)
        else:
            X_train, y_train = X_rest, y_rest
    except ValueError as e:
        kind = "stratified " if stratify else ""
        raise BadInputError(f"spec.split: too few rows ({len(frame)}) for a {kind}split: {e}") from e
    return Splits(train=Split(X_train, y_train), validation=validation, test=Split(X_test, y_test))


def _cut(
    X: pd.DataFrame, y: pd.Series | None, share: float, seed: int, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series | None, pd.Series | None]:
    from sklearn.model_selection import train_test_split

    if y is None:
        X_a, X_b = train_test_split(X, test_size=share, random_state=seed, shuffle=True)
        return X_a, X_b, None, None
    X_a, X_b, y_a, y_b = train_test_split(
        X, y, test_size=share, random_state=seed, shuffle=True, stratify=y if stratify else None
    )
    return X_a, X_b, y_a, y_b
