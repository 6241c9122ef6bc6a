"""V2 REST infer bodies: JSON, and the binary tensor data extension, to an `InferCall` and back.

The extension (as Triton and KServe clients send it): when the `Inference-Header-Content-Length`
header is present, the body is that many bytes of JSON followed by the raw data of the inputs
that carry a `binary_data_size` parameter instead of `data`, in the order of the inputs (layout
in `datatypes`). Outputs come back the same way when the request sets `binary_data_output`, or
an output sets `binary_data` (which overrides it); the answer then carries the header too.

The common body, JSON or binary, takes a hand-checked path (exact JSON types, as the pydantic
models accept them, binary sizes adding up): validating it with pydantic costs twice as much.
Anything unusual goes through the `InferenceRequest` model and `_call_of`, so error messages
name the field.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from modelops.serving.bodies import read_json
from modelops.serving.datatypes import decode_raw, encode_raw
from modelops.serving.errors import BadRequestError, InvalidInputError, from_validation_errors
from modelops.serving.inference import InferAnswer, InferCall, Tensor
from modelops.serving.protocol import DATATYPES, INFER_REQUEST_ADAPTER, InferenceRequest

BINARY_SIZE = "binary_data_size"
BINARY_OUTPUT = "binary_data_output"
BINARY = "binary_data"


def parse_infer(body: bytes, json_length: int | None, *, max_containers: int, rows: int) -> InferCall:
    """An infer body as a call: 400 when it is not JSON (or not the extension's layout), 422 when not V2."""
    binary = b""
    if json_length is not None:
        if json_length > len(body):
            raise BadRequestError(
                f"Inference-Header-Content-Length {json_length} is beyond the body's {len(body)} bytes"
            )
        body, binary = body[:json_length], body[json_length:]
    document = read_json(body, max_containers=max_containers, rows=rows)
    call = _plain_call(document, binary)
    if call is not None:
        return call
    try:
        request = INFER_REQUEST_ADAPTER.validate_python(document)
    except ValidationError as e:
        raise from_validation_errors(e.errors()) from None
    return _call_of(request, binary)


def _call_of(request: InferenceRequest, binary: bytes) -> InferCall:
    view = memoryview(binary)
    position = 0
    inputs: list[Tensor] = []
    for item in request.inputs:
        size = (item.parameters or {}).get(BINARY_SIZE)
        if size is None:
            if item.data is None:
                raise InvalidInputError(f"input {item.name!r} has neither data nor a {BINARY_SIZE} parameter")
            inputs.append(Tensor(item.name, item.shape, item.datatype, item.data))
            continue
        if type(size) is not int or size < 0:
            raise InvalidInputError(f"input {item.name!r}: {BINARY_SIZE} must be a non-negative integer, not {size!r}")
        if item.data is not None:
            raise InvalidInputError(f"input {item.name!r} has both data and a {BINARY_SIZE} parameter")
        if position + size > len(binary):
            raise BadRequestError(
                f"input {item.name!r} declares {size} bytes of binary data but only {len(binary) - position} remain "
                f"after the JSON header"
            )
        raw = view[position : position + size]
        position += size
        inputs.append(
            Tensor(item.name, item.shape, item.datatype, decode_raw(item.name, item.datatype, item.shape, raw))
        )
    if position != len(binary):
        raise BadRequestError(
            f"the body has {len(binary) - position} bytes of binary data that no input's {BINARY_SIZE} accounts for"
        )
    outputs = [o.name for o in request.outputs] if request.outputs else None
    binary_outputs = (request.parameters or {}).get(BINARY_OUTPUT) is True
    flags: dict[str, bool] = {}
    for output in request.outputs or ():
        flag = (output.parameters or {}).get(BINARY)
        if type(flag) is bool:
            flags[output.name] = flag
    return InferCall(request.id, inputs, outputs, binary_outputs, flags)


def _optional_dict(value: Any) -> bool:
    return value is None or type(value) is dict


def _plain_call(document: Any, binary: bytes) -> InferCall | None:
    """The call if the body is plainly valid (exact types, binary sizes adding up); else None."""
    if type(document) is not dict:
        return None
    inputs = document.get("inputs")
    if type(inputs) is not list or not inputs:
        return None
    tensors: list[Tensor] = []
    position = 0
    for item in inputs:
        if type(item) is not dict:
            return None
        name, shape, datatype, data = item.get("name"), item.get("shape"), item.get("datatype"), item.get("data")
        parameters = item.get("parameters")
        if type(name) is not str or type(shape) is not list or not _optional_dict(parameters):
            return None
        if type(datatype) is not str or datatype not in DATATYPES:
            return None
        for dimension in shape:
            if type(dimension) is not int or dimension < 0:
                return None
        size = parameters.get(BINARY_SIZE) if parameters else None
        if size is None:
            if type(data) is not list:
                return None
            tensors.append(Tensor(name, shape, datatype, data))
            continue
        if data is not None or type(size) is not int or size < 0 or position + size > len(binary):
            return None
        raw = memoryview(binary)[position : position + size]
        position += size
        tensors.append(Tensor(name, shape, datatype, decode_raw(name, datatype, shape, raw)))
    if position != len(binary):
        return None
    request_id = document.get("id")
    parameters = document.get("parameters")
    if (request_id is not None and type(request_id) is not str) or not _optional_dict(parameters):
        return None
    outputs = document.get("outputs")
    names: list[str] | None = None
    flags: dict[str, bool] = {}
    if outputs is not None:
        if type(outputs) is not list:
            return None
        names = []
        for output in outputs:
            if type(output) is not dict or type(output.get("name")) is not str:
                return None
            output_parameters = output.get("parameters")
            if not _optional_dict(output_parameters):
                return None
            if output_parameters and type(output_parameters.get(BINARY)) is bool:
                flags[output["name"]] = output_parameters[BINARY]
            names.append(output["name"])
    binary_outputs = parameters is not None and parameters.get(BINARY_OUTPUT) is True
    return InferCall(request_id, tensors, names or None, binary_outputs, flags)


def render_infer(answer: InferAnswer, call: InferCall) -> tuple[bytes, int | None]:
    """The answer's body, and the JSON part's length when binary outputs follow it (else None)."""
    outputs: list[dict[str, Any]] = []
    buffers: list[bytes] = []
    binary = call.binary_outputs or bool(call.binary)  # False: every output as JSON, nothing to look up
    for output in answer.outputs:
        if binary and call.wants_binary(output.name):
            raw = encode_raw(output.datatype, output.values)
            buffers.append(raw)
            outputs.append(
                {
                    "name": output.name,
                    "shape": output.shape,
                    "datatype": output.datatype,
                    "parameters": {BINARY_SIZE: len(raw)},
                }
            )
        else:
            outputs.append(
                {
                    "name": output.name,
                    "shape": output.shape,
                    "datatype": output.datatype,
                    "data": output.values.tolist(),
                }
            )
    document: dict[str, Any] = {
        "model_name": answer.model_name,
        "model_version": answer.model_version,
        "parameters": {"prediction_ids": answer.prediction_ids},
        "outputs": outputs,
    }
    if answer.id is not None:
        document["id"] = answer.id
    header = orjson.dumps(document)
    if not buffers:
        return header, None
    return header + b"".join(buffers), len(header)
