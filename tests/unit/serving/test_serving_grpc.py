"""gRPC ModelInfer messages to an infer call and back: typed contents or raw bytes, checked like REST."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tritonclient.grpc import service_pb2

from modelops.serving.datatypes import decode_raw
from modelops.serving.errors import InvalidInputError
from modelops.serving.grpc_service import call_of, response_of
from modelops.serving.inference import InferAnswer, OutputTensor


def request(*tensors: dict[str, Any], raw: list[bytes] | None = None) -> Any:
    message = service_pb2.ModelInferRequest(model_name="iris", id="r1")
    for tensor in tensors:
        added = message.inputs.add(name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"])
        for field, values in tensor.get("contents", {}).items():
            getattr(added.contents, field).extend(values)
    message.raw_input_contents.extend(raw or [])
    return message


def test_typed_contents_become_typed_arrays() -> None:
    call = call_of(
        request(
            {"name": "size", "datatype": "FP32", "shape": [2], "contents": {"fp32_contents": [1.5, 2.5]}},
            {"name": "city", "datatype": "BYTES", "shape": [2], "contents": {"bytes_contents": [b"lyon", b""]}},
            {"name": "rooms", "datatype": "INT8", "shape": [2], "contents": {"int_contents": [3, -4]}},
        )
    )

    size, city, rooms = call.inputs
    assert size.data.dtype == np.float32 and size.data.tolist() == [1.5, 2.5]  # type: ignore[union-attr]
    assert list(city.data) == [b"lyon", b""]
    assert rooms.data.dtype == np.int8 and call.id == "r1" and call.outputs is None  # type: ignore[union-attr]


def test_raw_input_contents_are_read_in_the_order_of_the_inputs() -> None:
    rows = np.arange(8, dtype="<f8").reshape(2, 4)

    call = call_of(request({"name": "x", "datatype": "FP64", "shape": [2, 4]}, raw=[rows.tobytes()]))

    np.testing.assert_array_equal(np.asarray(call.inputs[0].data).reshape(2, 4), rows)
    assert call.binary_outputs


@pytest.mark.parametrize(
    ("tensors", "raw", "message"),
    [
        ([{"name": "a", "datatype": "INT8", "shape": [1], "contents": {"int_contents": [300]}}], None,
         "input 'a' is INT8 but value 0 (300) is outside [-128, 127]"),
        ([{"name": "a", "datatype": "FP64", "shape": [1], "contents": {"int64_contents": [3]}}], None,
         "input 'a' is FP64 but its contents are in int64_contents, not fp64_contents"),
        ([{"name": "a", "datatype": "FP16", "shape": [1], "contents": {}}], None,
         "input 'a' is FP16, which travels in raw_input_contents only"),
        ([{"name": "a", "datatype": "COMPLEX", "shape": [1]}], None, "input 'a' has an unknown datatype 'COMPLEX'"),
        ([{"name": "a", "datatype": "FP64", "shape": [-1]}], None, "input 'a' has a negative dimension"),
        ([{"name": "a", "datatype": "FP64", "shape": [1]}, {"name": "b", "datatype": "FP64", "shape": [1]}],
         [b"\x00" * 8], "raw_input_contents holds 1 tensors for 2 inputs"),
    ],
)  # fmt: skip
def test_contents_that_do_not_fit_their_datatype_are_refused(
    tensors: list[dict[str, Any]], raw: list[bytes] | None, message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        call_of(request(*tensors, raw=raw))

    assert message in str(raised.value)


def answer() -> InferAnswer:
    return InferAnswer(
        model_name="iris",
        model_version="v1",
        id="r1",
        prediction_ids=["a-1-0-ff", "a-2-1-ee"],
        outputs=[
            OutputTensor("predict", "BYTES", [2], np.array(["setosa", "virginica"], dtype=object)),
            OutputTensor("predict_proba", "FP64", [2, 2], np.array([0.9, 0.1, 0.2, 0.8])),
        ],
    )


def test_answers_come_back_in_the_form_the_request_used() -> None:
    typed, raw = response_of(answer(), raw=False), response_of(answer(), raw=True)

    assert list(typed.outputs[0].contents.bytes_contents) == [b"setosa", b"virginica"]
    assert list(typed.outputs[1].contents.fp64_contents) == [0.9, 0.1, 0.2, 0.8]
    assert [v.decode() for v in decode_raw("p", "BYTES", [2], raw.raw_output_contents[0])] == ["setosa", "virginica"]
    assert decode_raw("p", "FP64", [2, 2], raw.raw_output_contents[1]).tolist() == [0.9, 0.1, 0.2, 0.8]
    assert typed.parameters["prediction_ids"].string_param == "a-1-0-ff,a-2-1-ee"
    assert (typed.model_name, typed.model_version, typed.id) == ("iris", "v1", "r1")
