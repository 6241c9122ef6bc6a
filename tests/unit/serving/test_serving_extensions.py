"""What the server says about its model: metadata per datatype, and Triton's config, repository and statistics."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from modelops.artifacts.model_format import LoadedModel
from modelops.contract.metrics import INFERENCE_ROUTES
from modelops.serving.app import create_app
from modelops.serving.metrics import PREDICTION_ROUTES
from modelops.serving.service import ModelService

Model = tuple[LoadedModel, pd.DataFrame]


def v2(rows: list[list[float]]) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}]}


def test_an_all_numeric_model_advertises_one_fp64_matrix(iris_client: Any) -> None:
    inputs = iris_client.get("/v2/models/iris").json()["inputs"]

    assert [(i["name"], i["datatype"], i["shape"]) for i in inputs] == [("input-0", "FP64", [-1, 4])]


def test_a_model_with_categories_advertises_one_input_per_feature_with_its_datatype(mixed_client: Any) -> None:
    inputs = mixed_client.get("/v2/models/houses").json()["inputs"]

    # Every feature of this model may be missing, so the numbers travel as FP64 (NaN: missing).
    assert [(i["name"], i["datatype"], i["shape"]) for i in inputs] == [
        ("size", "FP64", [-1]),
        ("rooms", "FP64", [-1]),
        ("garden", "FP64", [-1]),
        ("city", "BYTES", [-1]),
    ]


def test_the_model_configuration_describes_tensors_without_the_batch_dimension(iris_client: Any) -> None:
    config = iris_client.get("/v2/models/iris/config").json()

    assert config["name"] == "iris" and config["max_batch_size"] == 10_000
    assert config["input"] == [{"name": "input-0", "data_type": "TYPE_FP64", "dims": [4]}]
    assert config["output"] == [
        {"name": "predict", "data_type": "TYPE_STRING", "dims": [1]},
        {"name": "predict_proba", "data_type": "TYPE_FP64", "dims": [3]},
    ]
    assert json.loads(config["parameters"]["classes"]["string_value"]) == ["setosa", "versicolor", "virginica"]
    assert iris_client.get("/v2/models/other/config").status_code == 404


def test_statistics_count_what_metrics_count(iris_client: Any, iris: Model) -> None:
    rows = iris[1].to_numpy().tolist()
    iris_client.post("/v2/models/iris/infer", json=v2(rows[:3]))
    iris_client.post("/predict", json={"instances": rows[:2]})
    iris_client.post("/v2/models/iris/infer", json=v2([[1.0, 2.0]]))

    stats = iris_client.get("/v2/models/iris/stats").json()["model_stats"][0]
    metrics = iris_client.get("/metrics").text

    assert (stats["name"], stats["version"]) == ("iris", "v1")
    assert stats["inference_count"] == 5 and stats["execution_count"] == 2
    assert stats["inference_stats"]["success"]["count"] == 2 and stats["inference_stats"]["success"]["ns"] > 0
    assert stats["inference_stats"]["fail"]["count"] == 1
    assert stats["last_inference"] > 0
    predicted = sum(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("modelops_predictions_total")
    )
    assert predicted == stats["inference_count"]


def test_the_repository_index_lists_the_model_and_its_state(
    iris_client: Any, make_settings: Any, make_client: Any
) -> None:
    ready = iris_client.post("/v2/repository/index").json()
    filtered = iris_client.post("/v2/repository/index", json={"ready": True}).json()
    loading = make_client(create_app(ModelService(make_settings(model_name="later"))))

    assert ready == filtered == [{"name": "iris", "version": "v1", "state": "READY", "reason": ""}]
    assert loading.post("/v2/repository/index", json={}).json() == [
        {"name": "later", "version": "", "state": "LOADING", "reason": ""}
    ]
    assert loading.post("/v2/repository/index", json={"ready": True}).json() == []
    assert loading.get("/v2/models/later/config").status_code == 503


def test_server_metadata_lists_the_extensions(iris_client: Any) -> None:
    assert iris_client.get("/v2").json()["extensions"] == [
        "binary_tensor_data", "model_configuration", "model_repository", "statistics",
    ]  # fmt: skip


def test_every_prediction_route_the_server_records_is_one_autoscaling_counts() -> None:
    """gRPC ModelInfer is recorded under its full method name, REST under its route template."""
    assert PREDICTION_ROUTES == {
        "/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer", "/predict",
        "/inference.GRPCInferenceService/ModelInfer",
    }  # fmt: skip
    assert all(re.fullmatch(INFERENCE_ROUTES, route) for route in PREDICTION_ROUTES)
    assert not any(re.fullmatch(INFERENCE_ROUTES, route) for route in ("/metrics", "/feedback", "/v2/models/{name}"))
