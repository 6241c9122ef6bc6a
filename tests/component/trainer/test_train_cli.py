"""`python -m modelops.trainer train` on real data, as a TrainingRun Job runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelops.artifacts.model_format import load_model
from modelops.artifacts.onnx_export import onnx_feed
from modelops.artifacts.store import ArtifactStore, namespace_root
from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK, EXIT_TRANSIENT, TrainResult

from .trainer_cli import RunTrainer


def _prepare(run_trainer: RunTrainer, store: str, name: str, *source: str) -> str:
    """Prepare dataset ``name`` from ``source`` (the CLI's source flags); its version."""
    run = run_trainer("prepare", "--name", name, "--store", store, *source)
    assert run.returncode == EXIT_OK, run.stderr
    version: str = run.result["version"]
    return version


def _train(run_trainer: RunTrainer, store: str, name: str, dataset: str, spec: dict[str, Any]) -> Any:
    return run_trainer("train", "--name", name, "--store", store, "--dataset", dataset, "--spec-json", json.dumps(spec))


def test_random_forest_on_breast_cancer_saves_a_verified_model_with_onnx(
    run_trainer: RunTrainer, store_uri: str
) -> None:
    _prepare(run_trainer, store_uri, "cancer", "--builtin", "breast_cancer")
    spec = {
        "model": {"algorithm": "random_forest", "hyperparameters": {"n_estimators": 15}},
        "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 3},
        "validation": {"minMetrics": {"accuracy": 0.8, "roc_auc": 0.8}},
    }
    run = _train(run_trainer, store_uri, "cancer-rf", "cancer", spec)

    assert run.returncode == EXIT_OK, run.stderr
    assert run.message == run.result and len(run.stdout.strip().encode()) < 4096
    result = TrainResult.model_validate(run.message)
    assert result.task == "classification" and result.passed and result.reasons == []
    assert result.formats == ["skops", "onnx"]
    model = load_model(result.uri)
    assert model.metadata.metrics.keys() >= {"train", "validation", "test"}
    test = model.metadata.metrics["test"]
    assert {"accuracy", "precision_macro", "recall_weighted", "f1_macro", "roc_auc", "confusion_matrix"} <= set(test)
    assert np.array(test["confusion_matrix"]).sum() == 114
    assert model.metadata.files["model.skops"] == result.sha256
    assert model.metadata.classes == ["benign", "malignant"]

    import onnxruntime as ort

    frame = pd.DataFrame(
        [[f.minimum for f in model.metadata.features]], columns=[f.name for f in model.metadata.features]
    )
    assert model.onnx_bytes is not None
    session = ort.InferenceSession(model.onnx_bytes, providers=["CPUExecutionProvider"])
    label = session.run(None, onnx_feed(frame, model.metadata.features, session))[0]
    assert list(label) == list(model.pipeline.predict(frame))


def test_same_inputs_and_seed_give_identical_metrics_and_version(run_trainer: RunTrainer, tmp_path: Path) -> None:
    stores = [f"file://{tmp_path / 'a'}", f"file://{tmp_path / 'b'}"]
    spec = {"model": {"algorithm": "gradient_boosting", "hyperparameters": {"n_estimators": 10}}}
    results = []
    for store in stores:
        _prepare(run_trainer, store, "wine", "--builtin", "wine")
        run = _train(run_trainer, store, "wine-gb", "wine", spec)
        assert run.returncode == EXIT_OK, run.stderr
        results.append(run.result)
    first, second = (load_model(r["uri"]).metadata for r in results)

    assert results[0]["version"] == results[1]["version"]
    assert first.metrics == second.metrics


def test_rerun_reports_the_stored_version_without_training_again(run_trainer: RunTrainer, iris_store: str) -> None:
    spec = {"model": {"algorithm": "knn"}}
    first = _train(run_trainer, iris_store, "iris-knn", "iris", spec)
    second = _train(run_trainer, iris_store, "iris-knn", "iris", spec)

    assert first.returncode == second.returncode == EXIT_OK
    assert first.result == second.result
    assert "already stored" in second.stderr


def test_a_crs_whole_stored_spec_trains_on_the_pinned_dataset_version(run_trainer: RunTrainer, iris_store: str) -> None:
    version = ArtifactStore.from_uri(namespace_root(iris_store, "default")).latest_version("datasets/iris")
    stored = {  # as the API server keeps it: datasetRef unpinned, fields the Job itself does not need
        "datasetRef": {"name": "iris"},
        "model": {"algorithm": "knn", "hyperparameters": {}},
        "split": {"train": 0.7, "validation": 0.15, "test": 0.15, "seed": 42},
        "validation": {"minMetrics": {"accuracy": 0.5}, "beatServing": {"metric": "accuracy", "tolerance": 0}},
        "resources": {"requests": {"cpu": "100m"}},
    }

    run = _train(run_trainer, iris_store, "iris-from-cr", f"iris@{version}", stored)

    assert run.returncode == EXIT_OK, run.stderr
    assert run.result["passed"] is True
    assert load_model(run.result["uri"]).metadata.dataset == f"iris@{version}"


def test_random_search_reports_best_hyperparameters_and_trials(run_trainer: RunTrainer, iris_store: str) -> None:
    spec = {
        "model": {"algorithm": "knn"},
        "tuning": {
            "strategy": "random",
            "parameters": {"n_neighbors": [1, 3, 5, 7, 9, 11], "weights": ["uniform", "distance"]},
            "maxTrials": 4,
            "cvFolds": 3,
            "objective": {"metric": "f1_macro", "goal": "maximize"},
        },
    }
    run = _train(run_trainer, iris_store, "iris-knn-tuned", "iris", spec)

    assert run.returncode == EXIT_OK, run.stderr
    assert run.result["trials"] == 4
    assert set(run.result["best_hyperparameters"]) == {"n_neighbors", "weights"}
    cv = load_model(run.result["uri"]).metadata.metrics["cv"]
    assert cv["objective"] == "f1_macro" and cv["trials"] == 4


def test_regression_and_clustering_report_their_metrics(run_trainer: RunTrainer, store_uri: str) -> None:
    _prepare(run_trainer, store_uri, "diabetes", "--builtin", "diabetes")
    _prepare(run_trainer, store_uri, "iris", "--builtin", "iris")
    ridge = _train(
        run_trainer,
        store_uri,
        "diabetes-ridge",
        "diabetes",
        {"model": {"algorithm": "ridge", "hyperparameters": {"alpha": 0.5}}},
    )
    kmeans = _train(
        run_trainer,
        store_uri,
        "iris-kmeans",
        "iris",
        {"task": "clustering", "model": {"algorithm": "kmeans", "hyperparameters": {"n_clusters": 3}}},
    )

    assert ridge.returncode == EXIT_OK, ridge.stderr
    assert ridge.result["task"] == "regression" and set(ridge.result["metrics"]) == {"r2", "rmse", "mae"}
    assert kmeans.returncode == EXIT_OK, kmeans.stderr
    assert kmeans.result["task"] == "clustering" and 0 < kmeans.result["metrics"]["silhouette"] <= 1


def test_model_below_its_gates_is_rejected_with_reasons_and_exit_zero(run_trainer: RunTrainer, iris_store: str) -> None:
    spec = {
        "model": {"algorithm": "logistic_regression", "hyperparameters": {"C": 0.0001}},
        "validation": {"minMetrics": {"accuracy": 0.99, "f1_macro": 0.99}},
    }
    run = _train(run_trainer, iris_store, "iris-weak", "iris", spec)

    assert run.returncode == EXIT_OK, run.stderr
    assert run.result["passed"] is False
    assert any(r.startswith("accuracy ") and "below the minimum 0.99" in r for r in run.result["reasons"])


def test_dirty_data_trains_end_to_end_with_categoricals(
    run_trainer: RunTrainer, store_uri: str, dirty_csv: tuple[Path, dict[str, int], pd.DataFrame]
) -> None:
    path, _, _ = dirty_csv
    dataset = {
        "source": {"configMap": {"name": "customers", "key": path.name}},
        "target": "churn",
        "features": ["age", "income", "city"],
        "cleaning": {"dropDuplicates": True, "missingValues": {"strategy": "most_frequent"}},
    }
    version = _prepare(
        run_trainer, store_uri, "customers", "--source-dir", str(path.parent), "--spec-json", json.dumps(dataset)
    )
    run = _train(
        run_trainer, store_uri, "churn", f"customers@{version}", {"model": {"algorithm": "logistic_regression"}}
    )

    assert run.returncode == EXIT_OK, run.stderr
    metadata = load_model(run.result["uri"]).metadata
    assert [(f.name, f.type) for f in metadata.features] == [
        ("age", "integer"),
        ("income", "number"),
        ("city", "category"),
    ]
    assert metadata.features[2].categories == ["lyon", "nice", "paris"]
    assert metadata.onnx.exported, metadata.onnx.reason


@pytest.mark.parametrize(
    ("spec", "dataset", "expected"),
    [
        ({"model": {"algorithm": "xgboost"}}, "iris", "spec.model.algorithm: Input should be 'logistic_regression'"),
        (
            {"model": {"algorithm": "random_forest", "hyperparameters": {"n_trees": 5}}},
            "iris",
            "unknown hyperparameter(s) ['n_trees'] for random_forest",
        ),
        (
            {"model": {"algorithm": "svm", "hyperparameters": {"kernel": "cubic"}}},
            "iris",
            "The 'kernel' parameter of SVC must be",
        ),
        ({"model": {"algorithm": "knn"}}, "iris@0123456789abcdef", "no complete version '0123456789abcdef'"),
        ({"model": {"algorithm": "knn"}}, "flowers", "dataset 'flowers' has no complete version"),
        (
            {"model": {"algorithm": "knn"}, "tuning": {"parameters": {"leafs": [1, 2]}}},
            "iris",
            "spec.tuning.parameters: unknown hyperparameter(s) ['leafs']",
        ),
        (
            {"model": {"algorithm": "knn"}, "validation": {"minMetrics": {"r2": 0.5}}},
            "iris",
            "spec.validation.minMetrics.r2: not a classification metric",
        ),
        ({"model": {"algorithm": "ridge"}, "task": "classification"}, "iris", "ridge does not do classification"),
        ({"model": {}}, "iris", "spec.model.algorithm: Field required"),
    ],
    ids=[
        "unknown-algorithm",
        "unknown-hyperparameter",
        "invalid-hyperparameter-value",
        "missing-dataset-version",
        "missing-dataset",
        "unknown-tuning-parameter",
        "gate-on-wrong-metric",
        "algorithm-task-mismatch",
        "missing-algorithm",
    ],
)
def test_bad_input_fails_before_training_with_a_named_cause(
    run_trainer: RunTrainer, iris_store: str, spec: dict[str, Any], dataset: str, expected: str
) -> None:
    run = _train(run_trainer, iris_store, "bad", dataset, spec)

    assert run.returncode == EXIT_BAD_INPUT, run.stderr
    assert run.message is not None and run.message["reason"] == "BadInput"
    assert expected in run.message["error"]
    assert "INFO fitting " not in run.stderr and "INFO tuning " not in run.stderr
    assert not (Path(iris_store.removeprefix("file://")) / "models" / "bad").exists()


def test_too_few_rows_for_a_stratified_split_is_bad_input(
    run_trainer: RunTrainer, store_uri: str, tmp_path: Path
) -> None:
    rows = tmp_path / "tiny.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": ["a", "b", "c", "a", "b"]}).to_csv(rows, index=False)
    _prepare(run_trainer, store_uri, "tiny", "--source-file", str(rows), "--target", "y")
    run = _train(run_trainer, store_uri, "tiny", "tiny", {"model": {"algorithm": "knn"}})

    assert run.returncode == EXIT_BAD_INPUT
    assert run.message is not None and "too few rows (5) for a stratified split" in run.message["error"]


def test_classification_of_a_dataset_without_target_is_bad_input(
    run_trainer: RunTrainer, store_uri: str, tmp_path: Path
) -> None:
    rows = tmp_path / "points.csv"
    pd.DataFrame({"x": np.arange(30.0), "z": np.arange(30.0) % 4}).to_csv(rows, index=False)
    _prepare(run_trainer, store_uri, "points", "--source-file", str(rows))
    run = _train(run_trainer, store_uri, "points", "points", {"task": "classification", "model": {"algorithm": "knn"}})

    assert run.returncode == EXIT_BAD_INPUT
    assert run.message is not None and "needs a target column" in run.message["error"]


def test_unreachable_s3_store_is_transient(run_trainer: RunTrainer) -> None:
    from modelops.testing.s3server import free_port

    env = {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_MAX_ATTEMPTS": "1",
    }
    run = run_trainer(
        "train", "--name", "m", "--store", "s3://modelops/root", "--dataset", "iris", "--algorithm", "knn", env=env
    )

    assert run.returncode == EXIT_TRANSIENT, run.stderr
    assert run.message is not None and run.message["reason"] == "Transient"
