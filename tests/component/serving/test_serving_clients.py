"""The official Open Inference Protocol clients, used as their users would, against the real server.

Default settings everywhere: tritonclient's HTTP client with binary tensor data on and off, its
gRPC client, KServe's REST client (in a venv of its own), and a plain gRPC health check. Every
answer must be what the fitted pipeline predicts.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from grpc_health.v1 import health_pb2

from modelops.artifacts.model_format import load_model
from modelops.trainer.sources import load_builtin

from .serving_server import Server, TrainedModel, kserve_python


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    frame = load_builtin("breast_cancer")
    return frame.drop(columns="target").sample(40, random_state=11)


@pytest.fixture(scope="module")
def pipeline(cancer_model: TrainedModel) -> Any:
    return load_model(cancer_model.uri).pipeline


def _labels(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel().tolist()]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_http_predicts_what_the_pipeline_does(
    server: Server, cancer_model: TrainedModel, rows: pd.DataFrame, pipeline: Any, binary: bool
) -> None:
    client = triton_http.InferenceServerClient(f"127.0.0.1:{server.port}")
    metadata = client.get_model_metadata(cancer_model.name)
    tensor = metadata["inputs"][0]
    data = rows.to_numpy(dtype=np.float64)
    infer_input = triton_http.InferInput(tensor["name"], list(data.shape), tensor["datatype"])
    infer_input.set_data_from_numpy(data, binary_data=binary)

    default = client.infer(cancer_model.name, [infer_input])
    proba = client.infer(
        cancer_model.name,
        [infer_input],
        outputs=[triton_http.InferRequestedOutput("predict_proba", binary_data=binary)],
    )

    assert _labels(default.as_numpy("predict")) == pipeline.predict(rows).tolist()
    np.testing.assert_allclose(proba.as_numpy("predict_proba"), pipeline.predict_proba(rows), atol=1e-5)
    assert client.is_server_ready() and client.is_model_ready(cancer_model.name)
    client.close()


def test_tritonclient_grpc_predicts_what_the_pipeline_does_and_reads_the_extensions(
    server: Server, cancer_model: TrainedModel, rows: pd.DataFrame, pipeline: Any
) -> None:
    client = triton_grpc.InferenceServerClient(server.grpc_target)
    metadata = client.get_model_metadata(cancer_model.name, as_json=True)
    tensor = metadata["inputs"][0]
    data = rows.to_numpy(dtype=np.float64)
    infer_input = triton_grpc.InferInput(tensor["name"], list(data.shape), tensor["datatype"])
    infer_input.set_data_from_numpy(data)

    default = client.infer(cancer_model.name, [infer_input])
    proba = client.infer(cancer_model.name, [infer_input], outputs=[triton_grpc.InferRequestedOutput("predict_proba")])

    assert _labels(default.as_numpy("predict")) == pipeline.predict(rows).tolist()
    np.testing.assert_allclose(proba.as_numpy("predict_proba"), pipeline.predict_proba(rows), atol=1e-5)
    ids = default.get_response().parameters["prediction_ids"].string_param.split(",")
    assert len(ids) == len(rows)
    assert client.is_server_live() and client.is_model_ready(cancer_model.name)
    config = client.get_model_config(cancer_model.name, as_json=True)["config"]
    assert config["input"][0]["data_type"] == "TYPE_FP64" and config["input"][0]["dims"] == ["30"]
    stats = client.get_inference_statistics(cancer_model.name, as_json=True)["model_stats"][0]
    assert int(stats["inference_count"]) >= 2 * len(rows)
    index = client.get_model_repository_index(as_json=True)["models"]
    assert index == [{"name": cancer_model.name, "version": cancer_model.version, "state": "READY"}]
    client.close()


def test_grpc_errors_name_the_problem_with_the_matching_status(server: Server, cancer_model: TrainedModel) -> None:
    client = triton_grpc.InferenceServerClient(server.grpc_target)
    infer_input = triton_grpc.InferInput("input-0", [1, 29], "FP64")
    infer_input.set_data_from_numpy(np.ones((1, 29)))

    with pytest.raises(triton_grpc.InferenceServerException) as raised:
        client.infer(cancer_model.name, [infer_input])

    assert raised.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "has 29 features per row but the model takes 30" in raised.value.message()
    with pytest.raises(triton_grpc.InferenceServerException) as unknown:
        client.get_model_metadata("nobody")
    assert unknown.value.status() == "StatusCode.NOT_FOUND"
    client.close()


def test_a_grpc_health_check_says_serving(server: Server) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        # What grpc_health_probe and the kubelet's gRPC probe call.
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        overall = check(health_pb2.HealthCheckRequest(), timeout=5)
        inference = check(health_pb2.HealthCheckRequest(service="inference.GRPCInferenceService"), timeout=5)

    assert overall.status == inference.status == health_pb2.HealthCheckResponse.SERVING


KSERVE_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    import numpy as np
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    url, model, rows_file = sys.argv[1:4]
    rows = np.array(json.load(open(rows_file)), dtype=np.float64)

    async def main():
        client = InferenceRESTClient(RESTConfig(protocol="v2"))
        answers = {}
        for binary in (True, False):
            infer_input = InferInput("input-0", list(rows.shape), "FP64")
            infer_input.set_data_from_numpy(rows, binary_data=binary)
            request = InferRequest(model_name=model, infer_inputs=[infer_input])
            response = await client.infer(url, request, model_name=model)
            answers["binary" if binary else "json"] = [str(v) for v in response.outputs[0].as_numpy().tolist()]
        print(json.dumps(answers))

    asyncio.run(main())
    """
)


def test_kserve_rest_client_predicts_what_the_pipeline_does(
    server: Server, cancer_model: TrainedModel, rows: pd.DataFrame, pipeline: Any, tmp_path: Path
) -> None:
    python = kserve_python()
    script, data = tmp_path / "client.py", tmp_path / "rows.json"
    script.write_text(KSERVE_SCRIPT)
    data.write_text(json.dumps(rows.to_numpy().tolist()))

    done = subprocess.run(
        [str(python), str(script), server.url, cancer_model.name, str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    expected = pipeline.predict(rows).tolist()
    assert answers == {"binary": expected, "json": expected}
