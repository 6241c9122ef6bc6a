"""The HTTP API in-process: V2, /predict, /feedback, /metrics, errors, OpenAPI."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelops.artifacts.model_format import LoadedModel
from modelops.serving.app import create_app
from modelops.serving.service import ModelService

Model = tuple[LoadedModel, pd.DataFrame]
INFER = "/v2/models/iris/infer"


def v2(rows: list[list[Any]], **extra: Any) -> dict[str, Any]:
    shape = [len(rows), len(rows[0]) if rows else 4]
    return {"inputs": [{"name": "input-0", "shape": shape, "datatype": "FP64", "data": rows}], **extra}


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_health_and_server_metadata(iris_client: Any) -> None:
    assert iris_client.get("/v2/health/live").json() == {"live": True}
    assert iris_client.get("/v2/health/ready").json() == {"ready": True}
    assert iris_client.get("/v2/models/iris/ready").json() == {"ready": True}
    assert iris_client.get("/v2/models/iris/versions/v1/ready").json() == {"ready": True}
    assert iris_client.get("/v2").json()["name"] == "modelops"


def test_model_metadata_describes_inputs_outputs_and_features(iris_client: Any) -> None:
    metadata = iris_client.get("/v2/models/iris").json()

    assert metadata["name"] == "iris" and metadata["versions"] == ["v1"]
    assert metadata["platform"] == "onnxruntime"
    assert metadata["inputs"][0]["shape"] == [-1, 4]
    assert [o["name"] for o in metadata["outputs"]] == ["predict", "predict_proba"]
    assert metadata["parameters"]["classes"] == ["setosa", "versicolor", "virginica"]


def test_v2_infer_predicts_what_scikit_learn_predicts(iris_client: Any, iris: Model) -> None:
    loaded, held_out = iris
    rows = held_out.to_numpy().tolist()

    answer = iris_client.post(INFER, json=v2(rows, id="req-1"))

    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == "req-1" and body["model_version"] == "v1"
    assert body["outputs"][0]["name"] == "predict" and body["outputs"][0]["datatype"] == "BYTES"
    assert body["outputs"][0]["data"] == loaded.pipeline.predict(held_out).tolist()
    assert len(body["parameters"]["prediction_ids"]) == len(rows)


def test_v2_infer_gives_probabilities_when_asked(iris_client: Any, iris: Model) -> None:
    loaded, held_out = iris
    rows = held_out.to_numpy().tolist()[:3]

    body = iris_client.post(INFER, json=v2(rows, outputs=[{"name": "predict_proba"}])).json()

    assert [o["name"] for o in body["outputs"]] == ["predict_proba"]
    assert body["outputs"][0]["shape"] == [3, 3]
    np.testing.assert_allclose(
        np.reshape(body["outputs"][0]["data"], (3, 3)), loaded.pipeline.predict_proba(held_out[:3]), atol=1e-5
    )


def test_v2_infer_accepts_one_tensor_per_feature_and_a_version_path(iris_client: Any, iris: Model) -> None:
    loaded, held_out = iris
    inputs = [
        {"name": name, "shape": [2], "datatype": "FP32", "data": held_out[name].iloc[:2].tolist()}
        for name in reversed(held_out.columns)
    ]

    body = iris_client.post("/v2/models/iris/versions/v1/infer", json={"inputs": inputs}).json()

    assert body["outputs"][0]["data"] == loaded.pipeline.predict(held_out[:2]).tolist()


def test_predict_returns_labels_probabilities_version_and_ids(iris_client: Any, iris: Model) -> None:
    loaded, held_out = iris
    rows = held_out.iloc[:2]

    body = iris_client.post("/predict", json={"instances": [row.to_dict() for _, row in rows.iterrows()]}).json()

    assert body["predictions"] == loaded.pipeline.predict(rows).tolist()
    assert body["classes"] == ["setosa", "versicolor", "virginica"]
    np.testing.assert_allclose(body["probabilities"], loaded.pipeline.predict_proba(rows), atol=1e-5)
    assert body["model_version"] == "v1" and len(set(body["prediction_ids"])) == 2


def test_feedback_moves_live_accuracy(iris_client: Any, iris: Model) -> None:
    _, held_out = iris
    body = iris_client.post("/predict", json={"instances": held_out.to_numpy().tolist()[:4]}).json()
    truth = body["predictions"][:2] + ["setosa" if p != "setosa" else "virginica" for p in body["predictions"][2:]]

    answer = iris_client.post(
        "/feedback",
        json={
            "feedback": [{"prediction_id": i, "label": t} for i, t in zip(body["prediction_ids"], truth, strict=True)]
        },
    )

    assert answer.json() == {"accepted": 4, "ignored": []}
    samples = metric_samples(iris_client.get("/metrics").text)
    assert samples[("modelops_live_accuracy", ())] == 0.5
    assert samples[("modelops_live_feedback_samples", ())] == 4
    assert samples[("modelops_feedback_total", (("outcome", "accepted"),))] == 4


def test_metrics_count_requests_latency_classes_batches_and_model_info(iris_client: Any, iris: Model) -> None:
    _, held_out = iris
    iris_client.post(INFER, json=v2(held_out.to_numpy().tolist()[:5]))
    iris_client.post(INFER, json=v2([[1.0, 2.0]]))

    samples = metric_samples(iris_client.get("/metrics").text)

    route = "/v2/models/{name}/infer"
    assert samples[("modelops_requests_total", (("code", "200"), ("method", "POST"), ("route", route)))] == 1
    assert samples[("modelops_requests_total", (("code", "422"), ("method", "POST"), ("route", route)))] == 1
    assert samples[("modelops_request_duration_seconds_count", (("route", route),))] == 2
    assert sum(v for (n, _), v in samples.items() if n == "modelops_predictions_total") == 5
    assert samples[("modelops_predictions_total", (("class", "setosa"),))] >= 0
    assert samples[("modelops_batch_size_rows_bucket", (("le", "8.0"),))] == 1
    assert samples[("modelops_requests_in_flight", ())] == 0  # the scrape reading it is no load
    info = [labels for (n, labels), _ in samples.items() if n == "modelops_model_info"]
    assert dict(info[0]) == {
        "model": "iris", "version": "v1", "runtime": "onnxruntime", "task": "classification",
        "algorithm": "LogisticRegression",
    }  # fmt: skip
    assert samples[("modelops_model_ready", ())] == 1


def test_drift_gauges_appear_once_the_window_has_enough_rows(iris_client: Any, iris: Model) -> None:
    _, held_out = iris
    assert ("modelops_drift_score", (("method", "psi"),)) not in metric_samples(iris_client.get("/metrics").text)

    iris_client.post(INFER, json=v2((held_out.to_numpy() + 3.0).tolist() * 2))
    samples = metric_samples(iris_client.get("/metrics").text)

    assert samples[("modelops_drift_window_rows", ())] == 2 * len(held_out)
    assert samples[("modelops_drift_score", (("method", "psi"),))] > 1
    assert samples[("modelops_drift_features_drifted", (("method", "psi"),))] >= 3
    assert samples[("modelops_drift_threshold", (("method", "psi"),))] == 0.2
    assert ("modelops_drift_psi", (("feature", "petal length (cm)"),)) in samples


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (INFER, b"{not json", 400, "malformed JSON body"),
        (INFER, b"[1, 2]", 422, "invalid request body"),
        (INFER, json.dumps({"inputs": []}).encode(), 422, "inputs: List should have at least 1 item"),
        (INFER, json.dumps(v2([[1.0, 2.0, 3.0]])).encode(), 422, "has 3 features per row but the model takes 4"),
        (INFER, json.dumps(v2([[1.0, 2.0, 3.0, "x"]])).encode(), 422, "is FP64 but value 3 is str 'x'"),
        (INFER, json.dumps(v2([[1.0, 2.0, 3.0, 4.0]], outputs=[{"name": "x"}])).encode(), 422, "unknown outputs"),
        (INFER, json.dumps(v2([])).encode(), 422, "empty batch"),
        ("/v2/models/other/infer", json.dumps(v2([[1.0] * 4])).encode(), 404, "model 'other' is not served here"),
        ("/v2/models/iris/versions/v9/infer", json.dumps(v2([[1.0] * 4])).encode(), 404, "version 'v9'"),
        ("/predict", b"{", 400, "malformed JSON body"),
        ("/predict", json.dumps({"instances": []}).encode(), 422, "instances"),
        ("/predict", json.dumps({"instances": [[1, 2]]}).encode(), 422, "row 0 has 2 values"),
        ("/feedback", json.dumps({"feedback": [{"prediction_id": "x", "label": "setosa"}]}).encode(), 422,
         "'x' is not a prediction id issued by this server"),
        ("/nowhere", b"{}", 404, "no such path"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_4xx_json_error_naming_the_problem_and_serving_goes_on(
    iris_client: Any, iris: Model, path: str, body: bytes, status: int, message: str
) -> None:
    answer = iris_client.post(path, content=body, headers={"content-type": "application/json"})

    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert iris_client.post(INFER, json=v2(iris[1].to_numpy().tolist()[:1])).status_code == 200


def test_a_body_over_the_limit_is_413_whether_or_not_its_length_is_declared(
    iris: Model, make_settings: Any, make_client: Any
) -> None:
    service = ModelService(make_settings(max_body_bytes=1024))
    service.install(iris[0])
    client = make_client(create_app(service))
    big = json.dumps(v2([[1.0, 2.0, 3.0, 4.0]] * 100)).encode()

    declared = client.post(INFER, content=big)

    async def chunks() -> Any:
        for start in range(0, len(big), 100):
            yield big[start : start + 100]

    streamed = client.post("/predict", content=chunks())
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert "over the limit of 1024 bytes" in answer.json()["error"]


def test_wrong_method_is_405_json(iris_client: Any) -> None:
    answer = iris_client.get("/predict")

    assert answer.status_code == 405 and "error" in answer.json()


def test_before_the_model_is_loaded_it_is_live_but_not_ready(make_settings: Any, make_client: Any) -> None:
    service = ModelService(make_settings())
    client = make_client(create_app(service))

    assert client.get("/v2/health/live").status_code == 200
    not_ready = client.get("/v2/health/ready")
    assert not_ready.status_code == 503 and "still loading" in not_ready.json()["error"]
    assert client.post(INFER, json=v2([[1.0] * 4])).status_code == 503


def test_the_openapi_document_describes_every_route_and_body(iris_client: Any) -> None:
    document = iris_client.get("/openapi.json").json()
    paths = document["paths"]

    assert {"/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/infer",
            "/predict", "/feedback", "/metrics"} <= set(paths)  # fmt: skip
    infer = paths["/v2/models/{name}/infer"]["post"]
    assert infer["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/InferenceRequest")
    assert {"InferenceRequest", "RequestInput", "InferenceResponse", "ErrorResponse"} <= set(
        document["components"]["schemas"]
    )
    assert infer["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


def test_a_regression_model_with_category_features_is_served(mixed_client: Any, mixed: Model) -> None:
    loaded, held_out = mixed
    rows = held_out.iloc[:3]
    instances = [
        {"size": r["size"], "rooms": int(r["rooms"]), "garden": bool(r["garden"]), "city": r["city"]}
        for _, r in rows.iterrows()
    ]

    body = mixed_client.post("/predict", json={"instances": instances}).json()

    np.testing.assert_allclose(body["predictions"], loaded.pipeline.predict(rows), rtol=1e-5)
    assert body["probabilities"] is None and body["classes"] is None
    ids = body["prediction_ids"]
    fed = mixed_client.post("/feedback", json={"feedback": [{"prediction_id": i, "label": 100.0} for i in ids]}).json()
    assert fed["accepted"] == 3
    samples = metric_samples(mixed_client.get("/metrics").text)
    assert samples[("modelops_live_rmse", ())] > 0
    assert samples[("modelops_predictions_total", (("class", ""),))] == 3
