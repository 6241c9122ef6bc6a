"""Every algorithm trains, evaluates, saves and reloads in-process on tiny builtin data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelops.api.dataset import DatasetSpec
from modelops.api.trainingrun import TrainingRunSpec
from modelops.artifacts.model_format import load_model
from modelops.artifacts.store import ArtifactStore
from modelops.contract.jobs import SourceLimits
from modelops.trainer.algorithms import ALGORITHMS
from modelops.trainer.prepare import run_prepare
from modelops.trainer.sources import SourceLocations
from modelops.trainer.train import run_train

SMALL: dict[str, dict[str, Any]] = {
    "random_forest": {"n_estimators": 5},
    "gradient_boosting": {"n_estimators": 5},
    "hist_gradient_boosting": {"max_iter": 5},
    "mlp": {"hidden_layer_sizes": [8], "max_iter": 50},
    "kmeans": {"n_clusters": 3},
}
DATASET = {"classification": "iris", "regression": "diabetes", "clustering": "iris"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ArtifactStore:
    store = ArtifactStore.from_uri(f"file://{tmp_path_factory.mktemp('every')}")
    for name in ("iris", "diabetes"):
        spec = DatasetSpec.model_validate({"source": {"builtin": {"name": name}}})
        run_prepare(name=name, store=store, spec=spec, locations=SourceLocations(), limits=SourceLimits())
    return store


@pytest.mark.parametrize(("algorithm", "task"), [(a.name, t) for a in ALGORITHMS.values() for t in a.tasks])
def test_algorithm_trains_and_its_saved_model_reloads(store: ArtifactStore, algorithm: str, task: str) -> None:
    spec = TrainingRunSpec.model_validate(
        {
            "datasetRef": {"name": DATASET[task]},
            "task": task,
            "model": {"algorithm": algorithm, "hyperparameters": SMALL.get(algorithm, {})},
        }
    )

    result = run_train(name=f"{algorithm}-{task}", store=store, spec=spec)

    assert result.task == task and result.metrics
    model = load_model(result.uri)
    assert model.metadata.algorithm == algorithm
    assert set(model.metadata.metrics) == {"train", "validation", "test"}
    assert ("onnx" in result.formats) == model.metadata.onnx.exported == (model.onnx_bytes is not None)
    assert model.metadata.onnx.exported or model.metadata.onnx.reason
    features = [f.name for f in model.metadata.features]
    assert len(model.pipeline.predict(_rows(store, DATASET[task], features))) == 3


def _rows(store: ArtifactStore, dataset: str, features: list[str]) -> Any:
    import pandas as pd

    version = store.latest_version(f"datasets/{dataset}")
    frame = pd.read_parquet(Path(store.root, "datasets", dataset, str(version), "data.parquet"))
    return frame[features].head(3)
