"""Evaluation metrics per split, and the direction in which each one is better.

Values are plain floats (and a confusion matrix as nested lists) so they go
straight into JSON; a metric that is undefined on a split (ROC AUC with one
class present, silhouette with one cluster) is left out rather than faked.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from modelops.artifacts.metadata import Task

Goal = Literal["maximize", "minimize"]

METRICS: dict[Task, dict[str, Goal]] = {
    "classification": {
        "accuracy": "maximize",
        "precision_macro": "maximize",
        "recall_macro": "maximize",
        "f1_macro": "maximize",
        "precision_weighted": "maximize",
        "recall_weighted": "maximize",
        "f1_weighted": "maximize",
        "roc_auc": "maximize",
    },
    "regression": {"r2": "maximize", "rmse": "minimize", "mae": "minimize"},
    "clustering": {"silhouette": "maximize"},
}

HEADLINE: dict[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "f1_macro", "f1_weighted", "roc_auc"),
    "regression": ("r2", "rmse", "mae"),
    "clustering": ("silhouette",),
}


def classification_metrics(
    y_true: Sequence[Any], y_pred: Sequence[Any], scores: np.ndarray[Any, Any] | None, classes: Sequence[Any]
) -> dict[str, Any]:
    """`scores` are predict_proba columns in `classes` order (or a binary decision function)."""
    from sklearn import metrics

    labels = list(classes)
    out: dict[str, Any] = {"accuracy": float(metrics.accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        out[f"precision_{average}"] = float(precision)
        out[f"recall_{average}"] = float(recall)
        out[f"f1_{average}"] = float(f1)
    if scores is not None and len(set(y_true)) == len(labels) and len(labels) > 1:
        if len(labels) == 2:
            positive = scores[:, 1] if scores.ndim == 2 else scores
            out["roc_auc"] = float(metrics.roc_auc_score(np.asarray(y_true) == labels[1], positive))
        elif scores.ndim == 2:
            out["roc_auc"] = float(
                metrics.roc_auc_score(y_true, scores, multi_class="ovr", average="macro", labels=labels)
            )
    out["confusion_matrix"] = metrics.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return out


def regression_metrics(y_true: np.ndarray[Any, Any], y_pred: np.ndarray[Any, Any]) -> dict[str, Any]:
    from sklearn import metrics

    out: dict[str, Any] = {
        "rmse": float(math.sqrt(metrics.mean_squared_error(y_true, y_pred))),
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
    }
    if len(y_true) > 1:
        out = {"r2": float(metrics.r2_score(y_true, y_pred)), **out}
    return out


def clustering_metrics(X: np.ndarray[Any, Any], labels: np.ndarray[Any, Any]) -> dict[str, Any]:
    from sklearn import metrics

    out: dict[str, Any] = {"clusters": len(np.unique(labels))}
    if 2 <= out["clusters"] <= len(labels) - 1:
        out["silhouette"] = float(metrics.silhouette_score(X, labels))
    return out


def evaluate(pipeline: Any, X: Any, y: Any, task: Task) -> dict[str, Any]:
    """All metrics of `task` for a fitted pipeline on one split."""
    if task == "clustering":
        transformed = pipeline[:-1].transform(X)
        return clustering_metrics(np.asarray(transformed), np.asarray(pipeline.predict(X)))
    predictions = pipeline.predict(X)
    if task == "regression":
        return regression_metrics(np.asarray(y, dtype=np.float64), np.asarray(predictions, dtype=np.float64))
    scores = None
    n_classes = len(pipeline.classes_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # over/underflow inside some predict_proba
        if hasattr(pipeline, "predict_proba"):
            scores = np.asarray(pipeline.predict_proba(X))
        elif hasattr(pipeline, "decision_function") and n_classes == 2:
            # Binary ROC AUC only needs a ranking; multiclass needs probabilities.
            scores = np.asarray(pipeline.decision_function(X))
    return classification_metrics(list(y), list(predictions), scores, list(pipeline.classes_))


def headline(metrics: dict[str, Any], task: Task) -> dict[str, float]:
    """The few test-split numbers that go into the 4 KB result."""
    return {name: float(metrics[name]) for name in HEADLINE[task] if name in metrics}
