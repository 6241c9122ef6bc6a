"""HTTP bodies of the server: Open Inference Protocol V2, the simple JSON API, feedback.

The V2 shapes follow the protocol as KServe and MLServer clients send it
(https://github.com/kserve/open-inference-protocol). The hot infer path parses
its body with `INFER_REQUEST_ADAPTER` (pydantic-core's JSON parser, no FastAPI
dependency machinery) and writes its answer with orjson; the models here are
still the documented contract in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, Protocol, get_args

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from modelops.serving.errors import BadRequestError, from_validation_errors

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip

# A cell of a simple-API row: strict, so "1.5" is not silently taken for a number.
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr | None
Label = StrictInt | StrictFloat | StrictStr


class _Body(BaseModel):
    # Clients add fields we do not know (KServe adds some); ignore rather than refuse.
    model_config = ConfigDict(extra="ignore")


class RequestInput(_Body):
    """One input tensor; `data` is flat (row-major) or nested to the tensor's shape."""

    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any]


class RequestOutput(_Body):
    """An output the client asks for: `predict` (default) or `predict_proba`."""

    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(_Body):
    """`POST /v2/models/{name}/infer`: one [N, F] tensor, or one [N] tensor per feature (named after it)."""

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any]


class InferenceResponse(BaseModel):
    """The V2 answer; `parameters.prediction_ids` names each row for `/feedback`."""

    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[ResponseOutput]


class MetadataTensor(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int]
    parameters: dict[str, Any] | None = None


class ModelMetadataResponse(BaseModel):
    """`GET /v2/models/{name}`."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]
    parameters: dict[str, Any] | None = None


class ServerMetadataResponse(BaseModel):
    """`GET /v2`."""

    name: str
    version: str
    extensions: list[str]


class LiveResponse(BaseModel):
    live: bool


class ReadyResponse(BaseModel):
    ready: bool


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer of the server."""

    error: str


class PredictRequest(_Body):
    """`POST /predict`: rows as lists in feature order, or as {feature: value} objects."""

    instances: list[list[Scalar]] | list[dict[str, Scalar]] = Field(min_length=1)


class PredictResponse(BaseModel):
    model_name: str
    model_version: str
    predictions: list[Label]
    classes: list[Label] | None = Field(default=None, description="column order of `probabilities`")
    probabilities: list[list[float]] | None = Field(default=None, description="classifiers only")
    prediction_ids: list[str] = Field(description="send these back to /feedback with the true labels")


class FeedbackItem(_Body):
    prediction_id: str = Field(min_length=1, max_length=200)
    label: Label = Field(description="the true class (classification) or value (regression)")


class FeedbackRequest(_Body):
    """`POST /feedback`: ground truth for earlier predictions."""

    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100_000)


class IgnoredFeedback(BaseModel):
    prediction_id: str
    reason: str


class FeedbackResponse(BaseModel):
    accepted: int
    ignored: list[IgnoredFeedback]


INFER_REQUEST_ADAPTER: TypeAdapter[InferenceRequest] = TypeAdapter(InferenceRequest)

_DATATYPES = frozenset(get_args(Datatype))


class TensorLike(Protocol):
    """What validation reads from an input tensor (a `RequestInput` or a hot-path `Tensor`)."""

    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> list[int]: ...
    @property
    def datatype(self) -> str: ...
    @property
    def data(self) -> list[Any]: ...


class Tensor(NamedTuple):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class ParsedInfer(NamedTuple):
    """An infer request as the service uses it; `outputs` None means the default."""

    id: str | None
    inputs: Sequence[TensorLike]
    outputs: list[str] | None


def parse_infer_request(body: bytes) -> ParsedInfer:
    """Parse and check an infer body: 400 when it is not JSON, 422 when not the V2 shape."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequestError(f"malformed JSON body: {e}") from None
    parsed = _plain_request(document)
    if parsed is not None:
        return parsed
    try:
        request = INFER_REQUEST_ADAPTER.validate_python(document)
    except ValidationError as e:
        raise from_validation_errors(e.errors()) from None
    outputs = [o.name for o in request.outputs] if request.outputs else None
    return ParsedInfer(request.id, request.inputs, outputs)


def _optional_dict(value: Any) -> bool:
    return value is None or type(value) is dict


def _plain_request(document: Any) -> ParsedInfer | None:
    """The request if it is plainly valid (exact JSON types, as `InferenceRequest` accepts); else None."""
    if type(document) is not dict:
        return None
    inputs = document.get("inputs")
    if type(inputs) is not list or not inputs:
        return None
    tensors: list[Tensor] = []
    for item in inputs:
        if type(item) is not dict:
            return None
        name, shape, datatype, data = (
            item.get("name"),
            item.get("shape"),
            item.get("datatype"),
            item.get("data"),
        )
        if type(name) is not str or type(shape) is not list or type(data) is not list:
            return None
        if type(datatype) is not str or datatype not in _DATATYPES or not _optional_dict(item.get("parameters")):
            return None
        for dimension in shape:
            if type(dimension) is not int:
                return None
        tensors.append(Tensor(name, shape, datatype, data))
    request_id = document.get("id")
    if (request_id is not None and type(request_id) is not str) or not _optional_dict(document.get("parameters")):
        return None
    outputs = document.get("outputs")
    names: list[str] | None = None
    if outputs is not None:
        if type(outputs) is not list:
            return None
        names = []
        for output in outputs:
            if type(output) is not dict or type(output.get("name")) is not str:
                return None
            if not _optional_dict(output.get("parameters")):
                return None
            names.append(output["name"])
    return ParsedInfer(request_id, tensors, names or None)
