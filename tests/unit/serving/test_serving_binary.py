"""The binary tensor data extension on V2 REST: raw little-endian tensors after the JSON, both ways."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelops.artifacts.model_format import LoadedModel
from modelops.serving.datatypes import decode_raw, encode_raw
from modelops.serving.errors import InvalidInputError

Model = tuple[LoadedModel, pd.DataFrame]
INFER = "/v2/models/iris/infer"


def binary_request(document: dict[str, Any], *tensors: bytes) -> tuple[bytes, dict[str, str]]:
    header = json.dumps(document).encode()
    headers = {"content-type": "application/octet-stream", "inference-header-content-length": str(len(header))}
    return header + b"".join(tensors), headers


def binary_outputs(body: bytes, json_length: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The JSON part of an answer, and each binary output's raw bytes by name."""
    document = json.loads(body[:json_length])
    raw, position = {}, json_length
    for output in document["outputs"]:
        size = output["parameters"]["binary_data_size"]
        raw[output["name"]] = body[position : position + size]
        position += size
    assert position == len(body)
    return document, raw


@pytest.mark.parametrize(
    ("datatype", "values"),
    [
        ("FP64", [1.5, -2.25, np.nan]),
        ("FP32", [1.5, 3.0e38]),
        ("INT8", [-128, 127]),
        ("UINT16", [0, 65535]),
        ("INT64", [-(2**62), 2**62]),
        ("BOOL", [True, False, True]),
        ("BYTES", [b"paris", b"", b"lyon"]),
    ],
)
def test_every_datatype_survives_the_raw_layout(datatype: str, values: list[Any]) -> None:
    array = np.array(values, dtype=object if datatype == "BYTES" else None)

    decoded = decode_raw("x", datatype, [len(values)], encode_raw(datatype, array))

    assert decoded.tolist() == array.tolist() or np.allclose(decoded.astype(float), array.astype(float), equal_nan=True)


def test_bytes_are_four_byte_little_endian_lengths_then_the_bytes() -> None:
    assert encode_raw("BYTES", np.array(["ab", "c"], dtype=object)) == b"\x02\x00\x00\x00ab\x01\x00\x00\x00c"


@pytest.mark.parametrize(
    ("datatype", "shape", "raw", "message"),
    [
        ("FP64", [2], b"\x00" * 15, "carries 15 bytes of binary data but its shape [2] of FP64 needs 16"),
        ("BOOL", [2], b"\x01\x07", "is BOOL but its binary data holds bytes other than 0 and 1"),
        ("BYTES", [1], struct.pack("<I", 99) + b"ab", "element 0 claims 99 bytes past the end of its data"),
        ("BYTES", [2], struct.pack("<I", 1) + b"a", "its binary data ends before element 1 of 2"),
        ("BYTES", [1], struct.pack("<I", 1) + b"ab", "its binary data has 1 bytes more"),
    ],
)
def test_raw_data_that_does_not_fit_its_shape_and_datatype_is_refused(
    datatype: str, shape: list[int], raw: bytes, message: str
) -> None:
    with pytest.raises(InvalidInputError, match="input 'x'") as raised:
        decode_raw("x", datatype, shape, raw)

    assert message in str(raised.value)


def test_binary_inputs_and_outputs_predict_what_the_pipeline_does(iris_client: Any, iris: Model) -> None:
    loaded, held_out = iris
    rows = held_out.to_numpy(dtype=np.float32)[:5]
    matrix = {"name": "input-0", "shape": [5, 4], "datatype": "FP32", "parameters": {"binary_data_size": rows.nbytes}}
    document = {
        "inputs": [matrix],
        "outputs": [{"name": "predict", "parameters": {"binary_data": True}}, {"name": "predict_proba"}],
        "parameters": {"binary_data_output": True},
    }
    body, headers = binary_request(document, rows.astype("<f4").tobytes())

    answer = iris_client.post(INFER, content=body, headers=headers)

    assert answer.status_code == 200 and answer.headers["content-type"] == "application/octet-stream"
    json_part, raw = binary_outputs(answer.content, int(answer.headers["inference-header-content-length"]))
    labels = decode_raw("predict", "BYTES", [5], raw["predict"])
    proba = decode_raw("predict_proba", "FP64", [5, 3], raw["predict_proba"]).reshape(5, 3)
    frame = pd.DataFrame(rows.astype(np.float64), columns=held_out.columns)
    assert [v.decode() for v in labels] == loaded.pipeline.predict(frame).tolist()
    np.testing.assert_allclose(proba, loaded.pipeline.predict_proba(frame), atol=1e-5)
    assert len(json_part["parameters"]["prediction_ids"]) == 5


def test_a_request_may_mix_binary_and_json_inputs_and_ask_for_json_outputs(iris_client: Any, iris: Model) -> None:
    loaded, held_out = iris
    some = held_out.iloc[:2]
    inputs: list[dict[str, Any]] = []
    tensors: list[bytes] = []
    for position, name in enumerate(some.columns):
        column = some[name].to_numpy(dtype=np.float64)
        if position % 2:
            inputs.append({"name": name, "shape": [2], "datatype": "FP64", "data": column.tolist()})
        else:
            inputs.append({"name": name, "shape": [2], "datatype": "FP64", "parameters": {"binary_data_size": 16}})
            tensors.append(column.astype("<f8").tobytes())
    body, headers = binary_request({"inputs": inputs}, *tensors)

    answer = iris_client.post(INFER, content=body, headers=headers)

    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["outputs"][0]["data"] == loaded.pipeline.predict(some).tolist()


@pytest.mark.parametrize(
    ("declared", "sent", "status", "message"),
    [
        (32, 16, 400, "declares 32 bytes of binary data but only 16 remain after the JSON header"),
        (16, 24, 400, "the body has 8 bytes of binary data that no input's binary_data_size accounts for"),
        (-1, 16, 422, "binary_data_size must be a non-negative integer"),
    ],
)
def test_binary_data_that_does_not_add_up_is_refused(
    iris_client: Any, declared: int, sent: int, status: int, message: str
) -> None:
    matrix = {"name": "input-0", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": declared}}
    document = {"inputs": [matrix]}
    body, headers = binary_request(document, b"\x00" * sent)

    answer = iris_client.post(INFER, content=body, headers=headers)

    assert answer.status_code == status and message in answer.json()["error"]


def test_an_inference_header_length_beyond_the_body_is_a_bad_request(iris_client: Any) -> None:
    answer = iris_client.post(INFER, content=b"{}", headers={"inference-header-content-length": "99"})

    assert answer.status_code == 400
    assert "Inference-Header-Content-Length 99 is beyond the body's 2 bytes" in answer.json()["error"]


def test_the_server_says_it_speaks_the_extension(iris_client: Any) -> None:
    assert "binary_tensor_data" in iris_client.get("/v2").json()["extensions"]
