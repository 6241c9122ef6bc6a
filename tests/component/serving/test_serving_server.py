"""The real server, on a loopback port, serving a model the trainer's CLI made."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from modelops.artifacts.model_format import load_model
from modelops.trainer.sources import load_builtin

from .serving_server import TEST_SETTINGS, Server, StartServer, TrainedModel


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    frame = load_builtin("breast_cancer")
    return frame.drop(columns="target").sample(60, random_state=5)


def infer_path(model: TrainedModel) -> str:
    return f"/v2/models/{model.name}/infer"


def v2(rows: pd.DataFrame | list[list[Any]], **extra: Any) -> dict[str, Any]:
    data = rows.to_numpy().tolist() if isinstance(rows, pd.DataFrame) else rows
    shape = [len(data), len(data[0]) if data else 30]
    return {"inputs": [{"name": "input-0", "shape": shape, "datatype": "FP64", "data": data}], **extra}


def test_it_serves_with_onnx_runtime_and_predicts_exactly_what_scikit_learn_does(
    server: Server, cancer_model: TrainedModel, rows: pd.DataFrame
) -> None:
    expected = load_model(cancer_model.uri).pipeline.predict(rows).tolist()

    batch = httpx.post(server.url + infer_path(cancer_model), json=v2(rows)).json()
    one_by_one = [
        httpx.post(server.url + infer_path(cancer_model), json=v2(rows.iloc[[i]])).json()["outputs"][0]["data"][0]
        for i in range(10)
    ]

    assert batch["outputs"][0]["data"] == expected
    assert one_by_one == expected[:10]
    metadata = httpx.get(f"{server.url}/v2/models/{cancer_model.name}").json()
    assert metadata["platform"] == "onnxruntime" and metadata["versions"] == [cancer_model.version]


def test_it_accepts_one_tensor_per_feature_named_after_it(
    server: Server, cancer_model: TrainedModel, rows: pd.DataFrame
) -> None:
    some = rows.iloc[:3]
    inputs = [{"name": c, "shape": [3], "datatype": "FP64", "data": some[c].tolist()} for c in some.columns]

    body = httpx.post(server.url + infer_path(cancer_model), json={"inputs": inputs}).json()

    assert body["outputs"][0]["data"] == load_model(cancer_model.uri).pipeline.predict(some).tolist()


def test_predict_answers_labels_probabilities_version_and_ids(
    server: Server, cancer_model: TrainedModel, rows: pd.DataFrame
) -> None:
    some = rows.iloc[:2]

    body = httpx.post(f"{server.url}/predict", json={"instances": some.to_dict(orient="records")}).json()

    pipeline = load_model(cancer_model.uri).pipeline
    assert body["predictions"] == pipeline.predict(some).tolist()
    np.testing.assert_allclose(body["probabilities"], pipeline.predict_proba(some), atol=1e-5)
    assert body["model_version"] == cancer_model.version and len(body["prediction_ids"]) == 2


def _bad_cases(model: TrainedModel, rows: pd.DataFrame) -> list[tuple[str, bytes, int, str]]:
    path = infer_path(model)
    row = rows.to_numpy().tolist()[0]
    renamed = [{"name": f"x{i}", "shape": [1], "datatype": "FP64", "data": [v]} for i, v in enumerate(row)]
    named = dict(zip(rows.columns, row, strict=True))
    return [
        (path, json.dumps(v2([row[:29]])).encode(), 422, "has 29 features per row but the model takes 30"),
        (path, json.dumps({"inputs": renamed[:2]}).encode(), 422, "unknown inputs 'x0', 'x1'"),
        (path, json.dumps(v2([[*row[:29], "big"]])).encode(), 422, "is FP64 but value 29 is str 'big'"),
        (path, json.dumps(v2([[*row[:29], True]])).encode(), 422, "value 29 is bool"),
        (path, json.dumps(v2([row])).replace(str(row[0]), "1e400", 1).encode(), 422,
         "feature 'mean radius' is infinite in row 0"),
        ("/predict", json.dumps({"instances": [[math.inf, *row[1:]]]}).encode(), 422, "is infinite in row 0"),
        (path, json.dumps(v2([])).encode(), 422, "empty batch"),
        (path, b'{"inputs": [{"name": "input-0", ', 400, "malformed JSON body"),
        (path, json.dumps(v2([row] * 300)).encode(), 413, "over the limit of 65536 bytes"),
        ("/predict", json.dumps({"instances": [{**named, "mean radius": "big"}]}).encode(), 422,
         "feature 'mean radius' expects a number but row 0 has str 'big'"),
        ("/predict", json.dumps({"instances": [{}]}).encode(), 422, "row 0 lacks features 'mean radius'"),
        ("/predict", json.dumps({"instances": [{"colour": "red"}]}).encode(), 422, "unknown features 'colour'"),
        ("/feedback", json.dumps({"feedback": [{"prediction_id": "?", "label": "x"}]}).encode(), 422,
         "'?' is not a prediction id"),
    ]  # fmt: skip


def test_each_bad_input_gets_its_4xx_and_message_and_the_server_keeps_serving(
    server: Server, cancer_model: TrainedModel, rows: pd.DataFrame
) -> None:
    with httpx.Client(base_url=server.url) as client:
        for path, body, status, message in _bad_cases(cancer_model, rows):
            answer = client.post(path, content=body, headers={"content-type": "application/json"})
            assert (answer.status_code, answer.headers["content-type"]) == (status, "application/json"), body[:80]
            assert message in answer.json()["error"], answer.json()
        good = client.post(infer_path(cancer_model), json=v2(rows.iloc[:1]))
    assert good.status_code == 200


def test_nan_is_refused_where_the_model_cannot_impute_it(start_server: StartServer, tmp_path: Any) -> None:
    """The trainer's pipelines impute numbers, so make a version whose schema says it cannot."""
    import shutil

    from modelops.artifacts.model_format import save_model
    from modelops.artifacts.store import ArtifactStore

    frame = load_builtin("iris")
    features = [c for c in frame.columns if c != "target"]
    from sklearn.tree import DecisionTreeClassifier

    from modelops.artifacts.metadata import ModelMetadata, OnnxExport
    from modelops.trainer.profiling import feature_schema, profile_frame

    pipeline = DecisionTreeClassifier(random_state=0).fit(frame[features], frame["target"])
    metadata = ModelMetadata(
        name="strict", version="v1", task="classification", algorithm="decision_tree", hyperparameters={},
        target="target", features=feature_schema(frame, features, nullable=()), classes=list(pipeline.classes_),
        metrics={}, dataset="iris@x", profile=profile_frame(frame, features), onnx=OnnxExport(exported=False),
        libraries={}, files={},
    )  # fmt: skip
    saved = save_model(ArtifactStore.from_uri(str(tmp_path / "store")), pipeline, metadata, check_frame=frame[features])
    server = start_server("--model-uri", saved.uri)

    answer = httpx.post(f"{server.url}/v2/models/strict/infer", json=v2([[5.1, None, 1.4, 0.2]]))

    assert answer.status_code == 422
    assert (
        "feature 'sepal width (cm)' is missing (null/NaN) in row 0 and the model cannot impute it"
        in answer.json()["error"]
    )
    shutil.rmtree(tmp_path / "store")


def test_feedback_moves_live_accuracy_as_expected(
    start_server: StartServer, cancer_model: TrainedModel, rows: pd.DataFrame
) -> None:
    server = start_server("--model-uri", cancer_model.uri, env=TEST_SETTINGS)
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(infer_path(cancer_model), json=v2(rows.iloc[:8])).json()
        predicted, ids = answer["outputs"][0]["data"], answer["parameters"]["prediction_ids"]
        other = {"benign": "malignant", "malignant": "benign"}

        right = client.post("/feedback", json={"feedback": [
            {"prediction_id": i, "label": p} for i, p in zip(ids[:4], predicted[:4], strict=True)
        ]}).json()  # fmt: skip
        accuracy_after_right = _gauge(client, "modelops_live_accuracy")
        wrong = client.post("/feedback", json={"feedback": [
            {"prediction_id": i, "label": other[p]} for i, p in zip(ids[4:], predicted[4:], strict=True)
        ]}).json()  # fmt: skip
        accuracy_after_wrong = _gauge(client, "modelops_live_accuracy")
        again = client.post("/feedback", json={"feedback": [{"prediction_id": ids[0], "label": predicted[0]}]})

    assert right == {"accepted": 4, "ignored": []} and wrong["accepted"] == 4
    assert accuracy_after_right == 1.0
    assert accuracy_after_wrong == 0.5
    assert again.json()["ignored"][0]["reason"] == "feedback for this prediction was already received"


def _gauge(client: httpx.Client, name: str, labels: str = "") -> float:
    text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(f"{name}{labels} ") or (not labels and line.startswith(name + " ")):
            return float(line.split()[-1])
    raise AssertionError(f"{name}{labels} not in /metrics")


def test_drift_score_rises_above_the_threshold_for_shifted_inputs_only(
    start_server: StartServer, cancer_model: TrainedModel
) -> None:
    server = start_server("--model-uri", cancer_model.uri, env=TEST_SETTINGS)
    frame = load_builtin("breast_cancer").drop(columns="target")
    unshifted = frame.sample(200, random_state=9)
    shifted = unshifted * 1.6  # every measurement 60% larger: a new instrument calibration
    threshold = 0.2

    with httpx.Client(base_url=server.url) as client:
        for start in range(0, 200, 20):
            assert client.post(infer_path(cancer_model), json=v2(unshifted.iloc[start : start + 20])).status_code == 200
        calm = _gauge(client, "modelops_drift_score", '{method="psi"}')
        calm_drifted = _gauge(client, "modelops_drift_features_drifted", '{method="psi"}')
        for start in range(0, 200, 20):
            assert client.post(infer_path(cancer_model), json=v2(shifted.iloc[start : start + 20])).status_code == 200
        drifted = _gauge(client, "modelops_drift_score", '{method="psi"}')
        ks = _gauge(client, "modelops_drift_score", '{method="ks"}')
        one_feature = _gauge(client, "modelops_drift_psi", '{feature="mean radius"}')

    assert calm < threshold and calm_drifted == 0
    assert drifted > threshold and one_feature > threshold
    assert ks > 0.3
