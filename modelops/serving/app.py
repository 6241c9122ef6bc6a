"""The HTTP API of the model server: Open Inference Protocol V2 (+ Triton's extensions), /predict, /feedback, /metrics.

`create_app` returns the ASGI application uvicorn runs: the FastAPI app (every
route, the OpenAPI document, the one error handler) inside `ServingASGI`
(content types, body limits, request metrics, raw infer hot path). Loading starts in the
background at startup, so liveness answers while a large model downloads;
readiness waits for the model to be loaded, verified and warmed up.

The routes read their bodies themselves (`Request.body()`, then `bodies.read_json`), so every
route takes JSON the same way whatever the Content-Type (see `bodies` for the ones refused).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelops.serving import describe
from modelops.serving.asgi import ServingASGI
from modelops.serving.bodies import inspect_headers, read_json
from modelops.serving.errors import ServingError, handle_error
from modelops.serving.metrics import CONTENT_TYPE, INFER_ROUTE, INFER_VERSION_ROUTE, PREDICT_ROUTE
from modelops.serving.protocol import (
    REPOSITORY_INDEX_ADAPTER,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    InferenceRequest,
    InferenceResponse,
    LiveResponse,
    ModelConfigResponse,
    ModelMetadataResponse,
    ModelStatisticsResponse,
    PredictRequest,
    PredictResponse,
    ReadyResponse,
    RepositoryIndexRequest,
    RepositoryModel,
    ServerMetadataResponse,
)
from modelops.serving.service import ModelService

log = logging.getLogger(__name__)

LoadFailureHandler = Callable[[BaseException], None]
LoadedHandler = Callable[[], None]

_ERROR = {"model": ErrorResponse}
_NOT_READY: dict[int | str, dict[str, Any]] = {503: {"model": ErrorResponse, "description": "model not ready"}}
_MODEL_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {**_ERROR, "description": "no such model or version"},
    **_NOT_READY,
}
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "malformed JSON"},
    408: {**_ERROR, "description": "the body did not arrive in time"},
    413: {**_ERROR, "description": "body or batch over the limit"},
    415: {**_ERROR, "description": "a content type a browser sends cross-origin (text/plain, forms), or compressed"},
    422: {**_ERROR, "description": "the body does not match the protocol"},
    503: {**_ERROR, "description": "model not ready, too many bodies in transit, or shutting down"},
}
_INPUT_ERRORS: dict[int | str, dict[str, Any]] = {
    **_BODY_ERRORS,
    404: {**_ERROR, "description": "no such model or version"},
    422: {**_ERROR, "description": "input does not match the model's feature schema"},
}


def _body(model: type[Any]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads its body itself."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def create_app(
    service: ModelService,
    *,
    on_load_failure: LoadFailureHandler | None = None,
    on_loaded: LoadedHandler | None = None,
) -> ServingASGI:
    """The server's ASGI app; loads `service`'s model at startup unless it is already loaded."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not service.ready and service.failure is None:
            future = asyncio.get_running_loop().run_in_executor(None, service.load)
            future.add_done_callback(lambda f: _loaded(f, on_load_failure, on_loaded))
        yield

    api = FastAPI(
        title="modelops model server",
        version=describe.server_version(),
        summary="Serves one scikit-learn model version: Open Inference Protocol V2, simple JSON, feedback.",
        lifespan=lifespan,
        responses={422: {"model": ErrorResponse, "description": "invalid request"}},
    )
    # One handler, one mapping (errors.to_serving_error) for every error a request can raise.
    for error_class in (ServingError, RequestValidationError, ValidationError, StarletteHTTPException):
        api.add_exception_handler(error_class, handle_error)

    @api.get("/v2", response_model=ServerMetadataResponse, tags=["v2"])
    async def server_metadata() -> ServerMetadataResponse:
        return ServerMetadataResponse(
            name="modelops", version=describe.server_version(), extensions=describe.EXTENSIONS
        )

    @api.get("/v2/health/live", response_model=LiveResponse, tags=["v2"])
    async def live() -> LiveResponse:
        return LiveResponse(live=True)

    @api.get("/v2/health/ready", response_model=ReadyResponse, responses=_NOT_READY, tags=["v2"])
    async def ready() -> ReadyResponse:
        service.served()
        return ReadyResponse(ready=True)

    @api.get("/v2/models/{name}", response_model=ModelMetadataResponse, responses=_MODEL_ERRORS, tags=["v2"])
    async def model_metadata(name: str) -> ModelMetadataResponse:
        return describe.model_metadata(service.served(name))

    @api.get(
        "/v2/models/{name}/versions/{version}",
        response_model=ModelMetadataResponse,
        responses=_MODEL_ERRORS,
        tags=["v2"],
    )
    async def model_version_metadata(name: str, version: str) -> ModelMetadataResponse:
        return describe.model_metadata(service.served(name, version))

    @api.get("/v2/models/{name}/ready", response_model=ReadyResponse, responses=_MODEL_ERRORS, tags=["v2"])
    async def model_ready(name: str) -> ReadyResponse:
        service.served(name)
        return ReadyResponse(ready=True)

    @api.get(
        "/v2/models/{name}/versions/{version}/ready",
        response_model=ReadyResponse,
        responses=_MODEL_ERRORS,
        tags=["v2"],
    )
    async def model_version_ready(name: str, version: str) -> ReadyResponse:
        service.served(name, version)
        return ReadyResponse(ready=True)

    # The two infer routes below are normally answered by ServingASGI before FastAPI sees
    # them; they stay here for the OpenAPI document and behave identically.
    @api.post(
        INFER_ROUTE,
        response_model=InferenceResponse,
        responses=_INPUT_ERRORS,
        openapi_extra=_body(InferenceRequest),
        tags=["v2"],
    )
    async def infer(name: str, request: Request) -> Response:
        """Predict: one [N, F] tensor, or one tensor per feature named after it; binary tensor data too."""
        return await _infer(request, name, None)

    @api.post(
        INFER_VERSION_ROUTE,
        response_model=InferenceResponse,
        responses=_INPUT_ERRORS,
        openapi_extra=_body(InferenceRequest),
        tags=["v2"],
    )
    async def infer_version(name: str, version: str, request: Request) -> Response:
        return await _infer(request, name, version)

    async def _infer(request: Request, name: str, version: str | None) -> Response:
        payload, json_length = await service.infer_rest(
            await request.body(), inspect_headers(request.headers.raw).json_length, name, version
        )
        if json_length is None:
            return Response(payload, media_type="application/json")
        headers = {"inference-header-content-length": str(json_length)}
        return Response(payload, media_type="application/octet-stream", headers=headers)

    @api.get("/v2/models/{name}/config", response_model=ModelConfigResponse, responses=_MODEL_ERRORS, tags=["v2"])
    async def model_config(name: str) -> ModelConfigResponse:
        """Triton's model configuration extension (what tritonclient's get_model_config reads)."""
        return describe.model_config(service.served(name), max_batch_rows=service.settings.max_batch_rows)

    @api.get("/v2/models/{name}/stats", response_model=ModelStatisticsResponse, responses=_MODEL_ERRORS, tags=["v2"])
    async def model_stats(name: str) -> ModelStatisticsResponse:
        """Triton's statistics extension, from the counters /metrics exports."""
        return describe.model_statistics(service.served(name), service.metrics)

    @api.post(
        "/v2/repository/index",
        response_model=list[RepositoryModel],
        responses=_BODY_ERRORS,
        openapi_extra=_body(RepositoryIndexRequest),
        tags=["v2"],
    )
    async def repository_index(request: Request) -> list[RepositoryModel]:
        """The model repository extension's index: the one model this server serves, and its state."""
        body = await request.body()
        document = read_json(body, max_containers=8, rows=1) if body.strip() else {}
        ready = REPOSITORY_INDEX_ADAPTER.validate_python(document).ready
        return describe.repository_index(service, ready_only=bool(ready))

    @api.post(
        PREDICT_ROUTE,
        response_model=PredictResponse,
        responses=_INPUT_ERRORS,
        openapi_extra=_body(PredictRequest),
        tags=["simple"],
    )
    async def predict(request: Request) -> PredictResponse:
        """Predict rows given as lists in feature order or as {feature: value} objects."""
        return await service.predict(await request.body())

    @api.post(
        "/feedback",
        response_model=FeedbackResponse,
        responses=_INPUT_ERRORS,
        openapi_extra=_body(FeedbackRequest),
        tags=["simple"],
    )
    async def feedback(request: Request) -> FeedbackResponse:
        """Ground-truth labels for earlier predictions; they feed the live accuracy / F1 / RMSE."""
        return await service.feedback(await request.body())

    @api.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}}},
        tags=["monitoring"],
    )
    async def metrics() -> Response:
        """Prometheus metrics (names and labels in modelops/serving/README.md)."""
        # Drift statistics take milliseconds: compute them off the event loop so predictions
        # keep flowing. They read windows the loop writes; a row torn mid-copy is harmless
        # to a statistic over hundreds of rows.
        body = await asyncio.get_running_loop().run_in_executor(None, service.metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(title=api.title, version=api.version, summary=api.summary, routes=api.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (InferenceRequest, PredictRequest, FeedbackRequest, RepositoryIndexRequest):
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return ServingASGI(api, service)


def _loaded(
    future: Future[None] | asyncio.Future[None],
    on_failure: LoadFailureHandler | None,
    on_success: LoadedHandler | None,
) -> None:
    error = future.exception()
    if error is None:
        if on_success is not None:
            on_success()
        return
    if on_failure is not None:
        on_failure(error)
    else:
        log.error("model not loaded: %s", error)
