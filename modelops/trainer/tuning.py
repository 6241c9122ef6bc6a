"""Hyperparameter search: grid or random over `tuning.parameters`, scored by cross-validation.

The candidate list is computed here (grid order, or a seeded sample) and capped
at `maxTrials`, point by point without enumerating the space, then handed to GridSearchCV
as explicit single-point grids, so the trials run are exactly the ones this module chose,
whatever the strategy.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelops.api.trainingrun import Tuning
from modelops.artifacts.metadata import Task
from modelops.trainer.algorithms import Algorithm, make_estimator
from modelops.trainer.errors import BadInputError, SpecError
from modelops.trainer.metrics import METRICS, Goal
from modelops.trainer.pipeline import MODEL_STEP

DEFAULT_OBJECTIVE: dict[Task, str] = {
    "classification": "accuracy",
    "regression": "r2",
    "clustering": "silhouette",
}

_SCORERS = {
    "accuracy": "accuracy",
    "precision_macro": "precision_macro",
    "recall_macro": "recall_macro",
    "f1_macro": "f1_macro",
    "precision_weighted": "precision_weighted",
    "recall_weighted": "recall_weighted",
    "f1_weighted": "f1_weighted",
    "r2": "r2",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
}


@dataclass(frozen=True)
class Objective:
    metric: str
    goal: Goal


@dataclass(frozen=True)
class TuningOutcome:
    pipeline: Any  # refit on the whole training split with the best candidate
    best: dict[str, Any]
    trials: int
    best_score: float


def objective_of(spec: Tuning, task: Task) -> Objective:
    name = spec.objective.metric if spec.objective else DEFAULT_OBJECTIVE[task]
    known = METRICS[task]
    if name not in known:
        raise SpecError(f"spec.tuning.objective.metric: {name!r} is not a {task} metric (known: {', '.join(known)})")
    goal = spec.objective.goal if spec.objective and spec.objective.goal else known[name]
    if goal != known[name]:
        raise SpecError(f"spec.tuning.objective.goal: {name} can only be {known[name]}d, not {goal}d")
    return Objective(name, goal)


def grid_point(space: Mapping[str, Sequence[Any]], index: int) -> dict[str, Any]:
    """The `index`-th point of the grid over `space`, in ParameterGrid's order (sorted names, last fastest)."""
    point: dict[str, Any] = {}
    for name in sorted(space, reverse=True):
        values = space[name]
        index, position = divmod(index, len(values))
        point[name] = values[position]
    return dict(sorted(point.items()))


def candidates(spec: Tuning, seed: int) -> list[dict[str, Any]]:
    """At most `maxTrials` points, computed one by one: a space of 10^20 points costs what 10 do.

    (scikit-learn's ParameterGrid enumerates the whole grid to take its head, and cannot even
    count a grid past 2^63 points; its sampler neither.)
    """
    space = {name: list(values) for name, values in sorted(spec.parameters.items())}
    size = math.prod(len(values) for values in space.values())
    n = min(spec.max_trials, size)
    if spec.strategy == "grid":
        indices: list[int] = list(range(n))
    elif size <= 2 * n:
        indices = random.Random(seed).sample(range(size), n)
    else:
        # Rejection sampling: with at least half of the space unchosen, each draw is new with p >= 1/2.
        rng = random.Random(seed)
        chosen: dict[int, None] = {}  # insertion-ordered set
        while len(chosen) < n:
            chosen[rng.randrange(size)] = None
        indices = list(chosen)
    return [grid_point(space, i) for i in indices]


def check_candidates(
    points: list[dict[str, Any]], algorithm: Algorithm, task: Task, base: Mapping[str, Any], seed: int
) -> None:
    """Every candidate must be a valid estimator configuration before any fold runs."""
    for point in points:
        make_estimator(algorithm, task, {**base, **point}, seed, field_path="spec.tuning.parameters")


def _silhouette_scorer(estimator: Any, X: Any, y: Any = None) -> float:
    from sklearn.metrics import silhouette_score

    labels = estimator.predict(X)
    if not 2 <= len(np.unique(labels)) <= len(labels) - 1:
        return -1.0  # the worst silhouette: one cluster is no clustering
    return float(silhouette_score(estimator[:-1].transform(X), labels))


def scorer_for(objective: Objective, task: Task, n_classes: int) -> Any:
    if objective.metric == "silhouette":
        return _silhouette_scorer
    if objective.metric == "roc_auc":
        return "roc_auc" if n_classes == 2 else "roc_auc_ovr"
    return _SCORERS[objective.metric]


def cv_for(task: Task, folds: int, seed: int, y: Any) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "classification":
        smallest = int(np.min(np.unique(np.asarray(y), return_counts=True)[1]))
        if smallest < folds:
            raise BadInputError(
                f"spec.tuning.cvFolds: {folds} folds need at least {folds} rows of every class in the "
                f"training split; the smallest class has {smallest}"
            )
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return KFold(n_splits=folds, shuffle=True, random_state=seed)


def tune(
    pipeline: Any,
    points: list[dict[str, Any]],
    *,
    X: Any,
    y: Any,
    task: Task,
    objective: Objective,
    cv: Any,
    n_jobs: int | None,
) -> TuningOutcome:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    grid = [{f"{MODEL_STEP}__{name}": [value] for name, value in point.items()} for point in points]
    n_classes = len(np.unique(np.asarray(y))) if task == "classification" else 0
    search = GridSearchCV(
        pipeline,
        param_grid=grid,
        scoring=scorer_for(objective, task, n_classes),
        cv=cv,
        refit=True,
        n_jobs=n_jobs,
        error_score="raise",
    )
    with warnings.catch_warnings():
        # Some candidates may not converge; cross-validation scores already rank them down.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    best = {key.removeprefix(f"{MODEL_STEP}__"): value for key, value in search.best_params_.items()}
    score = float(search.best_score_)
    if objective.goal == "minimize":
        score = -score  # sklearn's scorers negate error metrics so that greater is better
    return TuningOutcome(pipeline=search.best_estimator_, best=best, trials=len(points), best_score=score)
