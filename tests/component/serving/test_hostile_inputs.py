"""Hostile input against the real server (issue #9, serving items): each probe is refused with a 4xx naming it.

Every probe is what an attacker (or a careless client) with network access to a serving pod
sent; each answer must be a 4xx JSON error saying what is wrong, and the server must keep
serving. Forged feedback must not move the live metrics that drive rollbacks, and no value a
client sends may make the server answer differently from the fitted pipeline.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import httpx
import numpy as np
import pytest

from modelops.artifacts.model_format import load_model
from modelops.trainer.sources import load_builtin

from .serving_server import TEST_SETTINGS, Server, StartServer, TrainedModel, run_trainer

ROW = load_builtin("breast_cancer").drop(columns="target").iloc[0].tolist()


def v2(data: Any, *, shape: Any = None, datatype: str = "FP64") -> bytes:
    shape = [1, 30] if shape is None else shape
    return json.dumps({"inputs": [{"name": "input-0", "shape": shape, "datatype": datatype, "data": data}]}).encode()


def _binary_without_header() -> bytes:
    header = json.dumps(
        {"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", "parameters": {"binary_data_size": 240}}]}
    ).encode()
    return header + np.asarray(ROW, dtype="<f8").tobytes()


JSON = {"content-type": "application/json"}
BINARY = {"content-type": "application/octet-stream"}
HUGE = b"1" + b"0" * 400  # an integer beyond float64
REST = json.dumps(ROW[1:])[1:].encode()  # the row after its first value, closing bracket included


class Probe(NamedTuple):
    name: str
    path: str  # `{infer}`: the model's V2 infer path
    body: bytes
    headers: dict[str, str]
    status: int
    message: str


PROBES = [
    Probe("shape of floats", "{infer}", v2(ROW, shape=[1.0, 30.0]), JSON, 422,
          "inputs.0.shape.0: Input should be a valid integer"),
    Probe("shape with a boolean", "{infer}", v2(ROW, shape=[True, 30]), JSON, 422,
          "inputs.0.shape.0: Input should be a valid integer"),
    Probe("negative shape", "{infer}", v2(ROW, shape=[-1, 30]), JSON, 422,
          "inputs.0.shape.0: Input should be greater than or equal to 0"),
    Probe("UINT8 holding -5", "{infer}", v2([-5] + [1] * 29, datatype="UINT8"), JSON, 422,
          "is UINT8 but value 0 (-5) is outside [0, 255]"),
    Probe("BOOL for numeric features", "{infer}", v2([True] * 30, datatype="BOOL"), JSON, 422,
          "is BOOL but the model's features are not all booleans"),
    Probe("nested data not to the shape", "{infer}", v2([ROW[:20], ROW[20:]]), JSON, 422,
          "its data is nested but not to its shape [1, 30]"),
    Probe("text/plain on infer", "{infer}", v2(ROW), {"content-type": "text/plain"}, 415,
          "Content-Type text/plain is not accepted"),
    Probe("form on predict", "/predict", b"instances=1", {"content-type": "application/x-www-form-urlencoded"}, 415,
          "Content-Type application/x-www-form-urlencoded is not accepted"),
    Probe("multipart on feedback", "/feedback", b"--x--", {"content-type": "multipart/form-data; boundary=x"}, 415,
          "Content-Type multipart/form-data is not accepted"),
    Probe("compressed body", "{infer}", v2(ROW), {"content-encoding": "gzip"}, 415,
          "Content-Encoding gzip is not accepted"),
    Probe("integer beyond float64 in predict", "/predict", b'{"instances": [[' + HUGE + b", " + REST + b"]}", JSON, 422,
          "is beyond the range of FP64"),
    Probe("integer beyond float64 in infer", "{infer}",
          b'{"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": [' + HUGE + b", " + REST + b"}]}",
          JSON, 422, "is beyond the range of FP64"),
    Probe("FP32 holding 1e39", "{infer}", v2([1e39, *ROW[1:]], datatype="FP32"), JSON, 422,
          "is FP32 but value 0 (1e+39) is beyond its range"),
    Probe("binary data without its header", "{infer}", _binary_without_header(), BINARY, 400,
          "needs the Inference-Header-Content-Length header"),
    Probe("binary data shorter than declared", "{infer}", _binary_without_header()[:-8],
          {**BINARY, "inference-header-content-length": str(len(_binary_without_header()) - 240)}, 400,
          "declares 240 bytes of binary data but only 232 remain"),
    Probe("infinity literal", "/predict", b'{"instances": [[Infinity, ' + REST + b"]}", JSON, 422,
          "feature 'mean radius' is infinite in row 0"),
]  # fmt: skip


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_a_hostile_request_gets_its_4xx_json_error_and_the_server_keeps_serving(
    server: Server, cancer_model: TrainedModel, probe: Probe
) -> None:
    infer = f"/v2/models/{cancer_model.name}/infer"
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(probe.path.format(infer=infer), content=probe.body, headers=probe.headers)
        good = client.post(infer, content=v2(ROW))

    assert (answer.status_code, answer.headers["content-type"]) == (probe.status, "application/json"), answer.text
    assert probe.message in answer.json()["error"]
    assert good.status_code == 200


def test_missing_values_have_the_same_spellings_on_every_route(server: Server, cancer_model: TrainedModel) -> None:
    """null and the NaN literal are both a missing value, on /predict and V2 infer alike, whatever the Content-Type.

    This model's training data never missed `mean radius`, so every spelling gets the same refusal.
    """
    infer = f"/v2/models/{cancer_model.name}/infer"
    with httpx.Client(base_url=server.url) as client:
        answers = [
            client.post("/predict", content=b'{"instances": [[NaN, ' + REST + b"]}"),
            client.post("/predict", content=b'{"instances": [[null, ' + REST + b"]}", headers=JSON),
            client.post(infer, content=b'{"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": [NaN, '
                        + REST + b"}]}"),
            client.post(infer, content=v2([None, *ROW[1:]]), headers=JSON),
        ]  # fmt: skip

    assert [a.status_code for a in answers] == [422] * 4
    assert {a.json()["error"] for a in answers} == {
        "feature 'mean radius' is missing (null/NaN) in row 0 and the model cannot impute it"
    }


def _metric(client: httpx.Client, name: str) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_forged_prediction_ids_are_refused_and_do_not_move_live_accuracy(
    start_server: StartServer, cancer_model: TrainedModel
) -> None:
    server = start_server(
        "--model-uri", cancer_model.uri, env={**TEST_SETTINGS, "MODELOPS_SERVING_MAX_BODY_BYTES": "1048576"}
    )
    with httpx.Client(base_url=server.url) as client:
        issued = client.post(f"/v2/models/{cancer_model.name}/infer", content=v2(ROW)).json()
        real = issued["parameters"]["prediction_ids"][0]
        head, sequence, predicted, _ = real.split("-")
        wrong = "benign" if predicted == "1" else "malignant"
        # 3,000 ids of the issued shape with made-up signatures, all labelled wrong.
        forged = [{"prediction_id": f"{head}-{n:x}-{predicted}-{n:032x}", "label": wrong} for n in range(1000, 4000)]
        refused = client.post("/feedback", json={"feedback": forged})
        respelled = [
            {"prediction_id": f"{head}-{sequence}-{spelling}-{real.split('-')[-1]}", "label": "benign"}
            for spelling in (f"{predicted}.0", f"{predicted}e0", f"0x{predicted}")
        ]
        duplicates = [client.post("/feedback", json={"feedback": [item]}) for item in respelled]
        samples = _metric(client, "modelops_live_feedback_samples")
        accepted = client.post("/feedback", json={"feedback": [{"prediction_id": real, "label": "benign"}]})
        again = client.post("/feedback", json={"feedback": [{"prediction_id": real, "label": "benign"}]})

    assert refused.status_code == 422 and "is not a prediction id issued by this server" in refused.json()["error"]
    assert [d.status_code for d in duplicates] == [422, 422, 422]
    assert samples == 0
    assert accepted.json() == {"accepted": 1, "ignored": []}
    assert again.json()["ignored"][0]["reason"] == "feedback for this prediction was already received"


def test_replicas_sharing_the_deployment_key_accept_each_others_ids_and_others_do_not(
    start_server: StartServer, cancer_model: TrainedModel
) -> None:
    key = {"MODELOPS_SERVING_FEEDBACK_KEY": "a per-deployment secret of 32 bytes"}
    one = start_server("--model-uri", cancer_model.uri, env={**TEST_SETTINGS, **key})
    two = start_server("--model-uri", cancer_model.uri, env={**TEST_SETTINGS, **key})
    stranger = start_server("--model-uri", cancer_model.uri, env=TEST_SETTINGS)
    issued = httpx.post(f"{one.url}/v2/models/{cancer_model.name}/infer", content=v2(ROW)).json()
    feedback = {"feedback": [{"prediction_id": issued["parameters"]["prediction_ids"][0], "label": "benign"}]}

    assert httpx.post(f"{two.url}/feedback", json=feedback).json()["accepted"] == 1
    assert httpx.post(f"{stranger.url}/feedback", json=feedback).status_code == 422
    assert "a per-deployment secret" not in one.output() + two.output()
    assert "MODELOPS_SERVING_FEEDBACK_KEY is not set" in stranger.output()


@pytest.fixture(scope="module")
def regression_model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    root = tmp_path_factory.mktemp("diabetes")
    store = f"file://{root / 'store'}"
    run_trainer(["prepare", "--name", "diabetes", "--store", store, "--builtin", "diabetes"], root / "t1")
    spec = json.dumps({"task": "regression", "model": {"algorithm": "linear_regression"}})
    result = run_trainer(
        ["train", "--name", "diabetes-lr", "--store", store, "--dataset", "diabetes", "--spec-json", spec], root / "t2"
    )
    return TrainedModel(uri=result["uri"], name="diabetes-lr", version=result["version"])


def test_regression_feedback_out_of_range_is_refused_and_rmse_stays_finite(
    start_server: StartServer, regression_model: TrainedModel
) -> None:
    server = start_server("--model-uri", regression_model.uri, env=TEST_SETTINGS)
    row = load_builtin("diabetes").drop(columns="target").iloc[0].tolist()
    with httpx.Client(base_url=server.url) as client:
        ids = client.post("/predict", json={"instances": [row] * 12}).json()["prediction_ids"]
        huge = [client.post("/feedback", json={"feedback": [{"prediction_id": i, "label": 1e200}]}) for i in ids[:11]]
        beyond = client.post(
            "/feedback",
            content=b'{"feedback": [{"prediction_id": "' + ids[11].encode() + b'", "label": 1' + b"0" * 400 + b"}]}",
        )
        client.post("/feedback", json={"feedback": [{"prediction_id": ids[11], "label": 150.0}]})
        rmse = _metric(client, "modelops_live_rmse")

    assert {a.status_code for a in huge} == {422} and "needs a finite number" in huge[0].json()["error"]
    assert beyond.status_code == 422 and beyond.headers["content-type"] == "application/json"
    assert rmse is not None and np.isfinite(rmse)


@pytest.fixture(scope="module")
def float32_model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """A logistic regression: scikit-learn computes in float64, its ONNX export in float32."""
    root = tmp_path_factory.mktemp("cancer-lr")
    store = f"file://{root / 'store'}"
    run_trainer(["prepare", "--name", "cancer", "--store", store, "--builtin", "breast_cancer"], root / "t1")
    spec = json.dumps({"model": {"algorithm": "logistic_regression"}})
    result = run_trainer(
        ["train", "--name", "cancer-lr", "--store", store, "--dataset", "cancer", "--spec-json", spec], root / "t2"
    )
    assert "onnx" in result["formats"]
    return TrainedModel(uri=result["uri"], name="cancer-lr", version=result["version"])


@pytest.mark.parametrize("value", [1e39, -3e38 * 10, 1e300])
def test_a_number_beyond_float32_gets_the_fitted_pipelines_answer(
    start_server: StartServer, float32_model: TrainedModel, value: float
) -> None:
    server = start_server("--model-uri", float32_model.uri, env=TEST_SETTINGS)
    rows = load_builtin("breast_cancer").drop(columns="target").iloc[:3].copy()
    rows.iloc[1, 3] = value  # one row of three holds it: the others still go through ONNX Runtime
    pipeline = load_model(float32_model.uri).pipeline

    answer = httpx.post(f"{server.url}/predict", json={"instances": rows.to_numpy().tolist()})

    with np.errstate(all="ignore"):  # scikit-learn saturates its logistic on such a row, as it should
        expected, probabilities = pipeline.predict(rows).tolist(), pipeline.predict_proba(rows)
    assert httpx.get(f"{server.url}/v2/models/{float32_model.name}").json()["platform"] == "onnxruntime"
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == expected
    np.testing.assert_allclose(answer.json()["probabilities"], probabilities, atol=1e-5)
