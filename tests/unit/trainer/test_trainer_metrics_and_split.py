"""Metrics per task, and the seeded split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelops.api.trainingrun import Split
from modelops.trainer.errors import BadInputError
from modelops.trainer.metrics import classification_metrics, clustering_metrics, regression_metrics
from modelops.trainer.splitting import split_data


def test_binary_classification_metrics() -> None:
    y = ["a", "a", "b", "b"]
    scores = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.7, 0.3]])

    metrics = classification_metrics(y, ["a", "a", "b", "a"], scores, ["a", "b"])

    assert metrics["accuracy"] == 0.75
    assert metrics["roc_auc"] == 0.75  # 3 of 4 (positive, negative) pairs ranked right
    assert metrics["confusion_matrix"] == [[2, 0], [1, 1]]
    assert metrics["recall_macro"] == 0.75


def test_roc_auc_is_left_out_when_a_split_lacks_a_class() -> None:
    metrics = classification_metrics(["a", "a"], ["a", "b"], np.array([[0.9, 0.1], [0.4, 0.6]]), ["a", "b"])

    assert "roc_auc" not in metrics


def test_regression_metrics() -> None:
    metrics = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))

    assert metrics["mae"] == pytest.approx(2 / 3)
    assert metrics["rmse"] == pytest.approx(np.sqrt(4 / 3))
    assert metrics["r2"] == pytest.approx(1 - 4 / 2)


def test_silhouette_needs_at_least_two_clusters() -> None:
    X = np.array([[0.0], [0.1], [5.0], [5.1]])

    assert clustering_metrics(X, np.array([0, 0, 1, 1]))["silhouette"] > 0.9
    assert "silhouette" not in clustering_metrics(X, np.array([0, 0, 0, 0]))


def _labelled(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(rows, dtype=float), "y": ["a", "b"] * (rows // 2)})


def test_split_is_seeded_disjoint_and_stratified() -> None:
    frame = _labelled(200)
    spec = Split(train=0.6, validation=0.2, test=0.2, seed=5)

    splits = split_data(frame, features=["x"], target="y", task="classification", spec=spec)
    again = split_data(frame, features=["x"], target="y", task="classification", spec=spec)

    sizes = [len(s.X) for _, s in splits.items()]
    assert sizes == [120, 40, 40]
    indexes = [set(s.X.index) for _, s in splits.items()]
    assert not (indexes[0] & indexes[1]) and not (indexes[1] & indexes[2])
    assert splits.test.y is not None and splits.test.y.value_counts().tolist() == [20, 20]
    assert splits.test.X.index.equals(again.test.X.index)


def test_no_validation_split_when_its_share_is_zero() -> None:
    splits = split_data(
        _labelled(20),
        features=["x"],
        target="y",
        task="classification",
        spec=Split(train=0.8, validation=0, test=0.2),
    )

    assert splits.validation is None and [name for name, _ in splits.items()] == ["train", "test"]


def test_too_few_rows_for_stratification_is_bad_input() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "c"]})

    with pytest.raises(BadInputError, match=r"too few rows \(3\) for a stratified split"):
        split_data(frame, features=["x"], target="y", task="classification", spec=Split())


def test_stratifying_a_regression_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="stratification needs a classification target"):
        split_data(_labelled(20), features=["x"], target="x", task="regression", spec=Split(stratify=True))
