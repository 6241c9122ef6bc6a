"""The outermost ASGI layer: content types, body limits, request metrics, and the raw V2 infer path.

`POST /v2/models/{name}/infer` is answered here without entering FastAPI: its
routing, dependency solving and response classes cost more per request than
predicting a row with ONNX Runtime. The route is still declared in the FastAPI
app (same service call), so it is documented in the OpenAPI document and the
behaviour is the same either way. Everything else is forwarded to FastAPI.

Bodies are read here (`guard.BodyGuard`: size limit 413, deadline 408, shared
byte budget 503), then replayed to FastAPI, so the limits hold for every route
whether or not the client sent a Content-Length. A request counts as in flight
only once its body is in: a stalled upload is not load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match

from modelops.serving.bodies import inspect_headers
from modelops.serving.errors import ServingError, error_body, to_serving_error
from modelops.serving.guard import BodyGuard
from modelops.serving.metrics import INFER_ROUTE, INFER_VERSION_ROUTE, METRICS_PATH
from modelops.serving.service import ModelService

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_INFER_PREFIX = "/v2/models/"
_INFER_SUFFIX = "/infer"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON = (b"content-type", b"application/json")
_BINARY = (b"content-type", b"application/octet-stream")


class ServingASGI:
    """Wraps the FastAPI app; see the module docstring for what it does itself."""

    def __init__(self, api: FastAPI, service: ModelService) -> None:
        self.api = api
        self.service = service
        self.metrics = service.metrics
        settings = service.settings
        self.guard = BodyGuard(
            max_body=settings.max_body_bytes,
            timeout=settings.body_timeout_seconds,
            budget=settings.max_pending_body_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)  # lifespan
            return
        started = time.perf_counter()
        method: str = scope["method"]
        metrics = self.metrics
        route = "unmatched"
        status = 500
        counted = False
        try:
            if method in _BODY_METHODS:
                try:
                    headers = inspect_headers(scope["headers"])
                    body = await self.guard.read(scope, headers.length, receive)
                except ServingError as e:
                    route = self._route_label(scope)
                    status = e.status_code
                    await _answer(send, status, error_body(e), close=True)
                    return
                if body is None:
                    status = 499  # the client went away before sending its body
                    return
                metrics.in_flight += 1
                counted = True
                if method == "POST":
                    target = _infer_target(scope["path"])
                    if target is not None:
                        name, version = target
                        route = INFER_ROUTE if version is None else INFER_VERSION_ROUTE
                        status = await self._infer(send, body, headers.json_length, name, version)
                        return
                receive = _replay(body, receive)
            elif scope["path"] != METRICS_PATH:
                # The scrape reads the gauge while it is handled: counted, every idle pod would show one
                # request in flight, and an HPA on `inflight` with a target of 1 would never scale down.
                metrics.in_flight += 1
                counted = True
            status = await self._forward(scope, receive, send)
            route = self._route_label(scope)
        finally:
            if counted:
                metrics.in_flight -= 1
            metrics.record_request(route, method, status, time.perf_counter() - started)

    def _version(self) -> tuple[bytes, bytes] | None:
        """The header naming the model version served, once one is loaded."""
        model = self.service.model
        return model.version_header if model is not None else None

    async def _infer(self, send: Send, body: bytes, json_length: int | None, name: str, version: str | None) -> int:
        try:
            payload, json_length = await self.service.infer_rest(body, json_length, name, version)
        except Exception as e:
            error = to_serving_error(e)
            if not isinstance(e, ServingError):
                log.exception("inference failed")
            await _answer(send, error.status_code, error_body(error), version=self._version())
            return error.status_code
        await _answer(send, 200, payload, version=self._version(), json_length=json_length)
        return 200

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> int:
        status = 500
        started = False

        version = self._version()

        async def capture(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                if version is not None:
                    message["headers"] = [*message.get("headers", []), version]
            await send(message)

        try:
            await self.api(scope, receive, capture)
        except Exception:
            # FastAPI already answered through the error handler; the re-raise is only for logging.
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _answer(send, 500, error_body(to_serving_error(RuntimeError())))
            status = 500
        return status

    def _route_label(self, scope: Scope) -> str:
        """The route template (not the raw path: label values must stay few)."""
        route = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        for candidate in self.api.router.routes:
            match, _ = candidate.matches(scope)
            if match == Match.FULL:
                return str(getattr(candidate, "path", "unmatched"))
        return "unmatched"


def _infer_target(path: str) -> tuple[str, str | None] | None:
    """(name, version) when `path` is a V2 infer path, else None."""
    if not (path.startswith(_INFER_PREFIX) and path.endswith(_INFER_SUFFIX)):
        return None
    parts = path[len(_INFER_PREFIX) : -len(_INFER_SUFFIX)].split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
        return parts[0], parts[2]
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands the already-read body to the app, then passes through."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(
    send: Send,
    status: int,
    payload: bytes,
    *,
    close: bool = False,
    version: tuple[bytes, bytes] | None = None,
    json_length: int | None = None,
) -> None:
    if json_length is None:
        headers = [_JSON, (b"content-length", str(len(payload)).encode())]
    else:
        # The binary tensor data extension: JSON, then raw output tensors.
        headers = [
            _BINARY,
            (b"content-length", str(len(payload)).encode()),
            (b"inference-header-content-length", str(json_length).encode()),
        ]
    if version is not None:
        headers.append(version)
    if close:
        # The unread rest of a refused body must not be parsed as the next request.
        headers.append((b"connection", b"close"))
        if status == 503:
            headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
