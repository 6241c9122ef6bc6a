"""A served raw row gets exactly what training rows got: the Dataset's clipping and filling, in both runtimes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelops.artifacts.dataset_format import ColumnCleaning
from modelops.artifacts.model_format import LoadedModel

from .conftest import Client, client_of, save_model_of, service_serving

RNG = np.random.default_rng(3)
FRAME = pd.DataFrame({"x": RNG.normal(0, 1, 600), "k": RNG.integers(0, 9, 600).astype(float)})
FRAME["y"] = np.where(FRAME["x"] + FRAME["k"] / 4 > 1.0, "high", "low")
# As `prepare` fitted them: x clipped to [-1, 1] (training saw no value outside), k filled with 4.
CLEANING = {"x": ColumnCleaning(lower=-1.0, upper=1.0), "k": ColumnCleaning(fill=4.0)}
FRAME["x"] = FRAME["x"].clip(-1.0, 1.0)


@pytest.fixture(scope="module")
def cleaned_model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    model, _ = save_model_of(
        tmp_path_factory.mktemp("cleaned"),
        "cleaned",
        FRAME,
        "y",
        # Linear: it extrapolates, so an unclipped outlier or a wrong fill would change its probabilities.
        LogisticRegression(max_iter=500),
        "classification",
        nullable={"k"},
        cleaning=CLEANING,
    )
    assert model.metadata.onnx.exported, model.metadata.onnx.reason
    return model


@pytest.fixture(params=["onnx", "sklearn"])
def client(cleaned_model: LoadedModel, request: pytest.FixtureRequest) -> Iterator[Client]:
    service = service_serving(cleaned_model, runtime=request.param)
    assert service.model is not None and service.model.runtime.platform.startswith(request.param[:4])
    yield from client_of(service)


def predict(client: Client, *rows: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/predict", json={"instances": list(rows)})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_value_beyond_the_clipping_bound_is_predicted_as_the_clipped_value(client: Client) -> None:
    outliers = predict(client, {"x": 40.0, "k": 2.0}, {"x": -7.5, "k": 8.0})
    clipped = predict(client, {"x": 1.0, "k": 2.0}, {"x": -1.0, "k": 8.0})

    assert outliers["predictions"] == clipped["predictions"]
    assert outliers["probabilities"] == clipped["probabilities"]


def test_a_missing_nullable_feature_is_filled_with_the_datasets_value(client: Client) -> None:
    left_out, filled = predict(client, {"x": 0.3}, {"x": 0.3, "k": None}), predict(client, {"x": 0.3, "k": 4.0})
    assert left_out["predictions"] == filled["predictions"] * 2
    assert left_out["probabilities"] == filled["probabilities"] * 2


def test_a_feature_the_training_data_never_missed_is_required(client: Client) -> None:
    for row in ({}, {"k": 2.0}, {"x": None, "k": 2.0}):
        answer = client.post("/predict", json={"instances": [row]})
        assert answer.status_code == 422
        assert "'x'" in answer.json()["error"]
