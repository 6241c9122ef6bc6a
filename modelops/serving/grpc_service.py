"""The Open Inference Protocol V2 over gRPC (`inference.GRPCInferenceService`) and `grpc.health.v1`.

It runs on its own port (`grpc_port`) in the server's process and event loop (grpc.aio), so
it shares the model, the micro-batches, the metrics and the drift window with REST: a
ModelInfer is an `InferCall` like a REST infer. Requests are counted in
`modelops_requests_total` under the route `/inference.GRPCInferenceService/ModelInfer`, with
the HTTP status the same error gets over REST. Readiness stays on HTTP; the health service
answers NOT_SERVING until the model is ready, and again once shutdown starts.

The messages and service stubs are generated from Triton's published `grpc_service.proto` (the
Open Inference Protocol's `grpc_predict_v2.proto` plus Triton's extensions, field numbers
shared) and shipped generated in the `tritonclient` wheel; nothing generated lives here.
Inputs come as typed `contents` or as `raw_input_contents` (the layout in `datatypes`); the
answer uses the same form the request did. Prediction ids come back comma-separated in the
response parameter `prediction_ids`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc
import numpy as np
from google.protobuf import json_format
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tritonclient.grpc import model_config_pb2, service_pb2, service_pb2_grpc

from modelops.serving import describe
from modelops.serving.datatypes import INT_RANGES, NUMPY_TYPES, decode_raw, encode_raw
from modelops.serving.errors import InvalidInputError, ServingError, to_serving_error
from modelops.serving.inference import InferAnswer, InferCall, Tensor
from modelops.serving.metrics import GRPC_INFER_ROUTE
from modelops.serving.service import ModelService

log = logging.getLogger(__name__)

SERVICE_NAME = "inference.GRPCInferenceService"
# The gRPC status for each HTTP status a ServingError carries (errors.py maps errors to those).
GRPC_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    503: grpc.StatusCode.UNAVAILABLE,
}
# Which typed field of InferTensorContents carries each datatype (FP16 travels raw only).
_CONTENTS = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}  # fmt: skip
_READY_POLL_SECONDS = 0.1


def _tensor_from_contents(tensor: Any) -> Tensor:
    name, datatype, shape = tensor.name, tensor.datatype, list(tensor.shape)
    field = _CONTENTS.get(datatype)
    if field is None:
        raise InvalidInputError(f"input {name!r} is {datatype}, which travels in raw_input_contents only")
    filled = [f.name for f, _ in tensor.contents.ListFields() if f.name != field]
    if filled:
        raise InvalidInputError(f"input {name!r} is {datatype} but its contents are in {filled[0]}, not {field}")
    values = getattr(tensor.contents, field)
    if datatype == "BYTES":
        return Tensor(name, shape, datatype, np.array(list(values), dtype=object))
    array = np.asarray(values)
    if datatype in INT_RANGES and array.size:
        low, high = INT_RANGES[datatype]
        outside = (array < low) | (array > high)
        if outside.any():
            position = int(np.flatnonzero(outside)[0])
            raise InvalidInputError(
                f"input {name!r} is {datatype} but value {position} ({int(array[position])}) is outside [{low}, {high}]"
            )
    return Tensor(name, shape, datatype, array.astype(NUMPY_TYPES[datatype]))


def call_of(request: Any) -> InferCall:
    """A ModelInferRequest as a call; 422 naming the input when its datatype, shape or contents are wrong."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise InvalidInputError(f"raw_input_contents holds {len(raw)} tensors for {len(request.inputs)} inputs")
    inputs: list[Tensor] = []
    for position, tensor in enumerate(request.inputs):
        if tensor.datatype not in NUMPY_TYPES and tensor.datatype != "BYTES":
            raise InvalidInputError(f"input {tensor.name!r} has an unknown datatype {tensor.datatype!r}")
        if any(dimension < 0 for dimension in tensor.shape):
            raise InvalidInputError(f"input {tensor.name!r} has a negative dimension in its shape {list(tensor.shape)}")
        if raw:
            shape = list(tensor.shape)
            data = decode_raw(tensor.name, tensor.datatype, shape, raw[position])
            inputs.append(Tensor(tensor.name, shape, tensor.datatype, data))
        else:
            inputs.append(_tensor_from_contents(tensor))
    outputs = [output.name for output in request.outputs] or None
    return InferCall(request.id or None, inputs, outputs, binary_outputs=bool(raw))


def response_of(answer: InferAnswer, *, raw: bool) -> Any:
    response = service_pb2.ModelInferResponse(
        model_name=answer.model_name, model_version=answer.model_version, id=answer.id or ""
    )
    response.parameters["prediction_ids"].string_param = ",".join(answer.prediction_ids)
    for output in answer.outputs:
        tensor = response.outputs.add(name=output.name, datatype=output.datatype, shape=output.shape)
        if raw:
            response.raw_output_contents.append(encode_raw(output.datatype, output.values))
        elif output.datatype == "BYTES":
            tensor.contents.bytes_contents.extend(str(v).encode() for v in output.values.tolist())
        else:
            getattr(tensor.contents, _CONTENTS[output.datatype]).extend(output.values.tolist())
    return response


class InferenceServicer(service_pb2_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    """The OIP V2 service (and Triton's config / statistics / repository index) over one ModelService."""

    def __init__(self, service: ModelService) -> None:
        self.service = service
        self.metrics = service.metrics

    async def _answer_error(self, context: grpc.aio.ServicerContext[Any, Any], error: Exception) -> None:
        serving = to_serving_error(error)
        if not isinstance(error, ServingError):
            log.exception("gRPC call failed", exc_info=error)
        await context.abort(GRPC_CODES.get(serving.status_code, grpc.StatusCode.INTERNAL), serving.message)

    async def ServerLive(self, request: Any, context: Any) -> Any:
        return service_pb2.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> Any:
        return service_pb2.ServerReadyResponse(ready=self.service.ready)

    async def ModelReady(self, request: Any, context: Any) -> Any:
        model = self.service.model
        ready = model is not None and request.name == model.name and request.version in ("", model.version)
        return service_pb2.ModelReadyResponse(ready=ready)

    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        return service_pb2.ServerMetadataResponse(
            name="modelops", version=describe.server_version(), extensions=describe.EXTENSIONS
        )

    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        try:
            metadata = describe.model_metadata(self.service.served(request.name, request.version or None))
        except Exception as e:
            await self._answer_error(context, e)
            raise  # abort raised already; this keeps the type checker honest
        response = service_pb2.ModelMetadataResponse(
            name=metadata.name, versions=metadata.versions, platform=metadata.platform
        )
        for tensor in metadata.inputs:
            response.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        for tensor in metadata.outputs:
            response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        return response

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        started = time.perf_counter()
        metrics = self.metrics
        metrics.in_flight += 1
        status = 500
        try:
            call = call_of(request)
            answer = await self.service.infer(call, request.model_name, request.model_version or None)
            response = response_of(answer, raw=bool(request.raw_input_contents))
            status = 200
            return response
        except Exception as e:
            status = to_serving_error(e).status_code
            await self._answer_error(context, e)
            raise
        finally:
            metrics.in_flight -= 1
            metrics.record_request(GRPC_INFER_ROUTE, "POST", status, time.perf_counter() - started)

    async def ModelConfig(self, request: Any, context: Any) -> Any:
        try:
            model = self.service.served(request.name, request.version or None)
        except Exception as e:
            await self._answer_error(context, e)
            raise
        config = describe.model_config(model, max_batch_rows=self.service.settings.max_batch_rows)
        return service_pb2.ModelConfigResponse(
            config=json_format.ParseDict(config.model_dump(), model_config_pb2.ModelConfig())
        )

    async def ModelStatistics(self, request: Any, context: Any) -> Any:
        try:
            model = self.service.served(request.name or None, request.version or None)
        except Exception as e:
            await self._answer_error(context, e)
            raise
        statistics = describe.model_statistics(model, self.metrics)
        return json_format.ParseDict(statistics.model_dump(), service_pb2.ModelStatisticsResponse())

    async def RepositoryIndex(self, request: Any, context: Any) -> Any:
        models = describe.repository_index(self.service, ready_only=request.ready)
        return service_pb2.RepositoryIndexResponse(
            models=[service_pb2.RepositoryIndexResponse.ModelIndex(**m.model_dump()) for m in models]
        )


class GrpcServer:
    """The gRPC server of the process: started after HTTP binds, stopped with it."""

    def __init__(self, service: ModelService, *, host: str, port: int, max_message_bytes: int) -> None:
        self.service = service
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
                ("grpc.so_reuseport", 0),
            ]
        )
        service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(service), self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.port = self.server.add_insecure_port(address)  # raises RuntimeError when the port is taken
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.start()
        self._watch = asyncio.create_task(self._serving_once_ready())

    async def _serving_once_ready(self) -> None:
        while not self.service.ready:
            await asyncio.sleep(_READY_POLL_SECONDS)
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        """Stop taking calls; the calls in flight get `grace` seconds."""
        if self._watch is not None:
            self._watch.cancel()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
