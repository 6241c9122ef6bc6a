"""The HTTP API of the model server: Open Inference Protocol V2, /predict, /feedback, /metrics.

`create_app` returns the ASGI application uvicorn runs: the FastAPI app (every
route, the OpenAPI document, the one error handler) inside `ServingASGI`
(body limit, request metrics, raw infer hot path). Loading starts in the
background at startup, so liveness answers while a large model downloads;
readiness waits for the model to be loaded, verified and warmed up.
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
from starlette.exceptions import HTTPException as StarletteHTTPException

import modelops
from modelops.serving.asgi import INFER_ROUTE, INFER_VERSION_ROUTE, ServingASGI
from modelops.serving.errors import ServingError, handle_error
from modelops.serving.metrics import CONTENT_TYPE, METRICS_PATH
from modelops.serving.protocol import (
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    InferenceRequest,
    InferenceResponse,
    LiveResponse,
    ModelMetadataResponse,
    PredictRequest,
    PredictResponse,
    ReadyResponse,
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
_INPUT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "malformed JSON"},
    413: {**_ERROR, "description": "body or batch over the limit"},
    422: {**_ERROR, "description": "input does not match the model's feature schema"},
    **_MODEL_ERRORS,
}
_INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}},
    }
}


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
        version=modelops_version(),
        summary="Serves one scikit-learn model version: Open Inference Protocol V2, simple JSON, feedback.",
        lifespan=lifespan,
        responses={422: {"model": ErrorResponse, "description": "invalid request"}},
    )
    # One handler, one mapping (errors.to_serving_error) for every error a request can raise.
    for error_class in (ServingError, RequestValidationError, StarletteHTTPException):
        api.add_exception_handler(error_class, handle_error)

    @api.get("/v2", response_model=ServerMetadataResponse, tags=["v2"])
    async def server_metadata() -> ServerMetadataResponse:
        return ServerMetadataResponse(name="modelops", version=modelops_version(), extensions=[])

    @api.get("/v2/health/live", response_model=LiveResponse, tags=["v2"])
    async def live() -> LiveResponse:
        return LiveResponse(live=True)

    @api.get("/v2/health/ready", response_model=ReadyResponse, responses=_NOT_READY, tags=["v2"])
    async def ready() -> ReadyResponse:
        service.served()
        return ReadyResponse(ready=True)

    @api.get("/v2/models/{name}", response_model=ModelMetadataResponse, responses=_MODEL_ERRORS, tags=["v2"])
    async def model_metadata(name: str) -> ModelMetadataResponse:
        return service.v2_metadata(name)

    @api.get(
        "/v2/models/{name}/versions/{version}",
        response_model=ModelMetadataResponse,
        responses=_MODEL_ERRORS,
        tags=["v2"],
    )
    async def model_version_metadata(name: str, version: str) -> ModelMetadataResponse:
        return service.v2_metadata(name, version)

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
        openapi_extra=_INFER_BODY,
        tags=["v2"],
    )
    async def infer(name: str, request: Request) -> Response:
        """Predict: one [N, F] tensor (FP64/FP32/INT64), or one [N] tensor per feature named after it."""
        payload = await service.infer_v2(await request.body(), name)
        return Response(payload, media_type="application/json")

    @api.post(
        INFER_VERSION_ROUTE,
        response_model=InferenceResponse,
        responses=_INPUT_ERRORS,
        openapi_extra=_INFER_BODY,
        tags=["v2"],
    )
    async def infer_version(name: str, version: str, request: Request) -> Response:
        payload = await service.infer_v2(await request.body(), name, version)
        return Response(payload, media_type="application/json")

    @api.post("/predict", response_model=PredictResponse, responses=_INPUT_ERRORS, tags=["simple"])
    async def predict(body: PredictRequest) -> PredictResponse:
        """Predict rows given as lists in feature order or as {feature: value} objects."""
        return await service.predict(body)

    @api.post("/feedback", response_model=FeedbackResponse, responses=_INPUT_ERRORS, tags=["simple"])
    async def feedback(body: FeedbackRequest) -> FeedbackResponse:
        """Ground-truth labels for earlier predictions; they feed the live accuracy / F1 / RMSE."""
        return service.feedback(body)

    @api.get(
        METRICS_PATH,
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
            body = InferenceRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["InferenceRequest"] = body
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


def modelops_version() -> str:
    return getattr(modelops, "__version__", "0.1.0")
