"""From a Dataset's cleaning to a served answer: prepare fits it, train bakes it in, the server applies it."""

from __future__ import annotations

import json

import httpx
import pytest

from modelops.artifacts.dataset_format import read_manifest
from modelops.artifacts.store import ArtifactStore, namespace_root, open_artifact
from modelops.trainer.sources import load_builtin

from .serving_server import TEST_SETTINGS, StartServer, TrainedModel, run_trainer

DATASET_SPEC = {
    "source": {"builtin": {"name": "breast_cancer"}},
    "target": "target",
    "cleaning": {
        "outliers": {"method": "iqr", "action": "clip", "threshold": 1.5},
        "missingValues": {"strategy": "median"},
    },
}
TRAINING_SPEC = {"model": {"algorithm": "logistic_regression"}, "split": {"seed": 3}}
FEATURE = "mean area"


@pytest.fixture(scope="module")
def cleaned_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainedModel, float]:
    """A logistic regression on breast_cancer whose Dataset clips outliers; and the upper bound of FEATURE."""
    root = tmp_path_factory.mktemp("cleaned-store")
    store = f"file://{root / 'store'}"
    prepared = run_trainer(
        ["prepare", "--name", "cancer", "--store", store, "--spec-json", json.dumps(DATASET_SPEC)], root / "t1"
    )
    trained = run_trainer(
        [
            "train",
            "--name",
            "cancer-lr",
            "--store",
            store,
            "--dataset",
            "cancer",
            "--spec-json",
            json.dumps(TRAINING_SPEC),
        ],
        root / "t2",
    )
    dataset_store, reldir = open_artifact(prepared["artifact"])
    upper = read_manifest(dataset_store, reldir).cleaning[FEATURE].upper
    assert upper is not None
    assert ArtifactStore.from_uri(namespace_root(store, "default")).exists("models/cancer-lr")
    return TrainedModel(uri=trained["uri"], name="cancer-lr", version=trained["version"]), upper


def test_a_raw_outlier_is_served_as_the_clipped_value_training_saw(
    start_server: StartServer, cleaned_model: tuple[TrainedModel, float]
) -> None:
    model, upper = cleaned_model
    server = start_server("--model-uri", model.uri, env=TEST_SETTINGS)
    row = load_builtin("breast_cancer").drop(columns="target").iloc[0].to_dict()

    def probabilities(value: float) -> list[list[float]]:
        answer = httpx.post(f"{server.url}/predict", json={"instances": [{**row, FEATURE: value}]})
        assert answer.status_code == 200, answer.text
        result: list[list[float]] = answer.json()["probabilities"]
        return result

    assert probabilities(upper * 20) == probabilities(upper)
    assert probabilities(upper * 20) != probabilities(upper / 2)


def test_a_row_without_the_features_the_data_never_missed_is_refused_naming_them(
    start_server: StartServer, cleaned_model: tuple[TrainedModel, float]
) -> None:
    model, _ = cleaned_model
    server = start_server("--model-uri", model.uri, env=TEST_SETTINGS)

    answer = httpx.post(f"{server.url}/predict", json={"instances": [{}]})

    assert answer.status_code == 422
    assert "row 0 lacks features 'mean radius'" in answer.json()["error"]
