"""HTTP bodies of the server: Open Inference Protocol V2, the simple JSON API, feedback.

The V2 shapes follow the protocol as KServe, Triton and MLServer clients send it
(https://github.com/kserve/open-inference-protocol), with Triton's model
configuration, repository index and statistics extensions. The infer route
parses its body itself (`rest`); the models here are still the documented
contract in the OpenAPI document and what that parser falls back to.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
)

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


Dimension = Annotated[StrictInt, Field(ge=0)]


class RequestInput(_Body):
    """One input tensor; `data` is flat (row-major) or nested to the tensor's shape.

    With the binary tensor data extension, `parameters.binary_data_size` replaces `data`.
    """

    name: str
    shape: list[Dimension]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


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
PREDICT_REQUEST_ADAPTER: TypeAdapter[PredictRequest] = TypeAdapter(PredictRequest)
FEEDBACK_REQUEST_ADAPTER: TypeAdapter[FeedbackRequest] = TypeAdapter(FeedbackRequest)

DATATYPES = frozenset(get_args(Datatype))


# -- Triton's extensions, as tritonclient reads them (the gRPC messages have the same fields) -----


class ConfigTensor(BaseModel):
    name: str
    data_type: str = Field(description="TYPE_FP64, TYPE_STRING, ... (Triton's names of the V2 datatypes)")
    dims: list[int] = Field(description="without the batch dimension (max_batch_size > 0)")


class ConfigParameter(BaseModel):
    string_value: str


class ModelConfigResponse(BaseModel):
    """`GET /v2/models/{name}/config`: the model configuration extension."""

    name: str
    platform: str
    backend: str
    max_batch_size: int
    input: list[ConfigTensor]
    output: list[ConfigTensor]
    parameters: dict[str, ConfigParameter]


class RepositoryIndexRequest(_Body):
    """`POST /v2/repository/index` (the model repository extension)."""

    ready: StrictBool | None = None


class RepositoryModel(BaseModel):
    name: str
    version: str
    state: Literal["READY", "UNAVAILABLE", "LOADING"]
    reason: str


class Duration(BaseModel):
    count: int
    ns: int


class InferStatistics(BaseModel):
    success: Duration
    fail: Duration
    queue: Duration
    compute_input: Duration
    compute_infer: Duration
    compute_output: Duration


class ModelStatistics(BaseModel):
    name: str
    version: str
    last_inference: int = Field(description="milliseconds since the epoch of the last prediction (0: none yet)")
    inference_count: int = Field(description="rows predicted")
    execution_count: int = Field(description="model calls (micro-batches share one)")
    inference_stats: InferStatistics


class ModelStatisticsResponse(BaseModel):
    """`GET /v2/models/{name}/stats`: the statistics extension, from the counters `/metrics` exports."""

    model_stats: list[ModelStatistics]


REPOSITORY_INDEX_ADAPTER: TypeAdapter[RepositoryIndexRequest] = TypeAdapter(RepositoryIndexRequest)
