"""The algorithms a TrainingRun may name, and how each becomes a scikit-learn estimator.

Hyperparameters are checked against the estimator's own parameter list and
constraints before any data is touched, so a typo fails the run at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelops.artifacts.metadata import Task
from modelops.trainer.errors import SpecError


@dataclass(frozen=True)
class Algorithm:
    name: str
    estimators: Mapping[Task, str]  # task -> "module:Class", imported only when used
    scale: bool  # distance/gradient based models need standardised inputs; trees do not
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tasks(self) -> list[Task]:
        return list(self.estimators)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "logistic_regression",
            {"classification": "sklearn.linear_model:LogisticRegression"},
            scale=True,
            defaults={"max_iter": 1000},
        ),
        Algorithm(
            "random_forest",
            {
                "classification": "sklearn.ensemble:RandomForestClassifier",
                "regression": "sklearn.ensemble:RandomForestRegressor",
            },
            scale=False,
        ),
        Algorithm(
            "gradient_boosting",
            {
                "classification": "sklearn.ensemble:GradientBoostingClassifier",
                "regression": "sklearn.ensemble:GradientBoostingRegressor",
            },
            scale=False,
        ),
        Algorithm(
            "hist_gradient_boosting",
            {
                "classification": "sklearn.ensemble:HistGradientBoostingClassifier",
                "regression": "sklearn.ensemble:HistGradientBoostingRegressor",
            },
            scale=False,
        ),
        Algorithm(
            "svm",
            # No `probability=True`: deprecated in scikit-learn 1.9. The classifier
            # gives labels (ROC AUC from its decision function when binary).
            {"classification": "sklearn.svm:SVC", "regression": "sklearn.svm:SVR"},
            scale=True,
        ),
        Algorithm(
            "knn",
            {
                "classification": "sklearn.neighbors:KNeighborsClassifier",
                "regression": "sklearn.neighbors:KNeighborsRegressor",
            },
            scale=True,
        ),
        Algorithm(
            "decision_tree",
            {
                "classification": "sklearn.tree:DecisionTreeClassifier",
                "regression": "sklearn.tree:DecisionTreeRegressor",
            },
            scale=False,
        ),
        Algorithm("linear_regression", {"regression": "sklearn.linear_model:LinearRegression"}, scale=True),
        Algorithm("ridge", {"regression": "sklearn.linear_model:Ridge"}, scale=True),
        Algorithm("kmeans", {"clustering": "sklearn.cluster:KMeans"}, scale=True, defaults={"n_init": 10}),
        Algorithm(
            "mlp",
            {
                "classification": "sklearn.neural_network:MLPClassifier",
                "regression": "sklearn.neural_network:MLPRegressor",
            },
            scale=True,
            defaults={"max_iter": 500},
        ),
    )
}


def get_algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise SpecError(
            f"spec.model.algorithm: unknown algorithm {name!r} (known: {', '.join(sorted(ALGORITHMS))})"
        ) from None


def check_task(algorithm: Algorithm, task: Task) -> None:
    if task not in algorithm.estimators:
        raise SpecError(
            f"spec.model.algorithm: {algorithm.name} does not do {task} (it does {', '.join(algorithm.tasks)})"
        )


def _estimator_class(path: str) -> Any:
    import importlib

    module, _, cls = path.partition(":")
    return getattr(importlib.import_module(module), cls)


def _defaults(algorithm: Algorithm, task: Task) -> dict[str, Any]:
    plain = {k: v for k, v in algorithm.defaults.items() if k not in ("classification", "regression", "clustering")}
    return {**plain, **algorithm.defaults.get(task, {})}


def make_estimator(
    algorithm: Algorithm, task: Task, hyperparameters: Mapping[str, Any], seed: int, *, field_path: str
) -> Any:
    """A configured, unfitted estimator; raises SpecError naming the bad hyperparameter."""
    from sklearn.utils._param_validation import InvalidParameterError

    check_task(algorithm, task)
    estimator = _estimator_class(algorithm.estimators[task])()
    known = estimator.get_params(deep=False)
    unknown = sorted(set(hyperparameters) - set(known))
    if unknown:
        raise SpecError(
            f"{field_path}: unknown hyperparameter(s) {unknown} for {algorithm.name} "
            f"(known: {', '.join(sorted(known))})"
        )
    params = {**_defaults(algorithm, task), **hyperparameters}
    if "random_state" in known and "random_state" not in hyperparameters:
        params["random_state"] = seed
    estimator.set_params(**params)
    try:
        # sklearn checks constraints only in fit(); check now so no data is touched first.
        estimator._validate_params()
    except InvalidParameterError as e:
        raise SpecError(f"{field_path}: {e}") from e
    return estimator
