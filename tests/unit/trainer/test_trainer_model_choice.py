"""Algorithms, hyperparameters, task inference, tuning candidates and gates."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from modelops.api.trainingrun import PromotionGates, Tuning
from modelops.trainer.algorithms import ALGORITHMS, get_algorithm, make_estimator
from modelops.trainer.errors import SpecError
from modelops.trainer.gates import apply_gates, check_gate_names
from modelops.trainer.train import infer_task, parse_dataset_ref
from modelops.trainer.tuning import Objective, candidates, objective_of

REQUIRED = {
    "logistic_regression",
    "random_forest",
    "gradient_boosting",
    "hist_gradient_boosting",
    "svm",
    "knn",
    "linear_regression",
    "ridge",
    "kmeans",
    "mlp",
}


def test_every_required_algorithm_is_offered() -> None:
    assert REQUIRED <= set(ALGORITHMS)


@pytest.mark.parametrize(("name", "task"), [(a.name, t) for a in ALGORITHMS.values() for t in a.tasks])
def test_every_algorithm_builds_a_seeded_estimator_for_each_task(name: str, task: Any) -> None:
    estimator = make_estimator(get_algorithm(name), task, {}, 7, field_path="f")

    params = estimator.get_params()
    assert params.get("random_state", 7) == 7


def test_user_hyperparameters_override_defaults_and_seed() -> None:
    estimator = make_estimator(
        get_algorithm("mlp"), "classification", {"max_iter": 5, "random_state": 1}, 7, field_path="f"
    )

    assert (estimator.max_iter, estimator.random_state) == (5, 1)


def test_unknown_algorithm_lists_the_known_ones() -> None:
    with pytest.raises(SpecError, match="unknown algorithm 'lgbm' \\(known: decision_tree, gradient_boosting"):
        get_algorithm("lgbm")


@pytest.mark.parametrize(
    ("hyperparameters", "expected"),
    [
        ({"depth": 3}, r"spec.model.hyperparameters: unknown hyperparameter\(s\) \['depth'\] for random_forest"),
        ({"n_estimators": 0}, "The 'n_estimators' parameter of RandomForestClassifier must be an int in the range"),
        ({"criterion": "best"}, "The 'criterion' parameter"),
    ],
)
def test_bad_hyperparameters_are_named(hyperparameters: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        make_estimator(
            get_algorithm("random_forest"),
            "classification",
            hyperparameters,
            0,
            field_path="spec.model.hyperparameters",
        )


@pytest.mark.parametrize(
    ("algorithm", "y", "expected"),
    [
        ("random_forest", pd.Series(["a", "b"]), "classification"),
        ("random_forest", pd.Series([0, 1, 2, 1]), "classification"),
        ("random_forest", pd.Series([0.5, 1.7, 2.2]), "regression"),
        ("random_forest", pd.Series(range(100)), "regression"),
        ("kmeans", None, "clustering"),
        ("linear_regression", pd.Series([1, 2]), "regression"),
    ],
)
def test_task_is_inferred_from_algorithm_then_label(algorithm: str, y: pd.Series | None, expected: str) -> None:
    assert infer_task(get_algorithm(algorithm), None if y is None else "y", y) == expected


def test_grid_candidates_are_in_grid_order_and_capped() -> None:
    spec = Tuning(strategy="grid", parameters={"a": [1, 2, 3], "b": ["x", "y"]}, max_trials=4)

    assert candidates(spec, 0) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]


def test_random_candidates_are_seeded_distinct_and_capped_by_the_space() -> None:
    spec = Tuning(strategy="random", parameters={"a": [1, 2, 3], "b": ["x", "y"]}, max_trials=50)

    first, again = candidates(spec, 3), candidates(spec, 3)

    assert first == again and len(first) == 6
    assert len({tuple(sorted(c.items())) for c in first}) == 6


@pytest.mark.parametrize(
    ("objective", "task", "expected"),
    [
        ({"metric": "rmse", "goal": "maximize"}, "regression", "rmse can only be minimized, not maximized"),
        ({"metric": "silhouette"}, "classification", "'silhouette' is not a classification metric"),
    ],
)
def test_inconsistent_objective_is_a_spec_error(objective: dict[str, str], task: Any, expected: str) -> None:
    spec = Tuning.model_validate({"parameters": {"a": [1]}, "objective": objective})

    with pytest.raises(SpecError, match=expected):
        objective_of(spec, task)


def test_objective_defaults_per_task_and_its_goal_follows_the_metric() -> None:
    assert objective_of(Tuning(parameters={"a": [1]}), "regression") == Objective("r2", "maximize")
    spec = Tuning.model_validate({"parameters": {"a": [1]}, "objective": {"metric": "rmse"}})
    assert objective_of(spec, "regression") == Objective("rmse", "minimize")


def test_objective_metric_is_named_in_full() -> None:
    with pytest.raises(ValidationError, match=r"objective\.metric"):
        Tuning.model_validate({"parameters": {"a": [1]}, "objective": {"metric": "f1"}})


def test_gates_pass_fail_and_explain() -> None:
    validation = PromotionGates.model_validate({"minMetrics": {"accuracy": 0.9, "roc_auc": 0.8}})

    assert apply_gates(validation, {"accuracy": 0.95, "roc_auc": 0.9}) == (True, [])
    assert apply_gates(validation, {"accuracy": 0.85}) == (
        False,
        ["accuracy 0.85 is below the minimum 0.9", "roc_auc is not defined on the test split (minimum 0.8)"],
    )


def test_error_metrics_are_bounded_from_above() -> None:
    validation = PromotionGates.model_validate({"maxMetrics": {"rmse": 10}})
    check_gate_names(validation, "regression")

    assert apply_gates(validation, {"rmse": 12.0}) == (False, ["rmse 12 is above the maximum 10"])
    with pytest.raises(SpecError, match="rmse is minimized, so a bound on it belongs in maxMetrics"):
        check_gate_names(PromotionGates.model_validate({"minMetrics": {"rmse": 1}}), "regression")


@pytest.mark.parametrize(("ref", "expected"), [("iris", ("iris", None)), ("iris@abc", ("iris", "abc"))])
def test_dataset_ref_parses_name_and_optional_version(ref: str, expected: tuple[str, str | None]) -> None:
    assert parse_dataset_ref(ref) == expected
