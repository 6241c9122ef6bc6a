"""Errors of the model server: each carries its HTTP status, and one handler maps them.

Handlers and the hot path raise a `ServingError`; `to_serving_error` turns the
framework's own exceptions (body validation, unknown routes) into one, and
`error_response` renders any of them as `{"error": "..."}` (the Open Inference
Protocol's error shape), so every error answer has the same form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

JSON_HEADERS = [(b"content-type", b"application/json")]


class ServingError(Exception):
    """An error answered with a JSON body and an HTTP status."""

    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequestError(ServingError):
    """The body is not well-formed: not JSON, or not the shape the protocol defines."""

    status_code = 400


class InvalidInputError(ServingError):
    """The body is well-formed but does not match the model's feature schema."""

    status_code = 422


class PayloadTooLargeError(ServingError):
    """The body or the batch is over the configured limit."""

    status_code = 413


class UnsupportedMediaTypeError(ServingError):
    """A content type or encoding the server does not read (see `bodies`)."""

    status_code = 415


class RequestTimeoutError(ServingError):
    """The client took longer than allowed to send its body."""

    status_code = 408


class ServerBusyError(ServingError):
    """Too many request bodies are being received at once, or the server is shutting down; retry."""

    status_code = 503


class ModelNotFoundError(ServingError):
    """No model of that name (or version) is served here."""

    status_code = 404


class RouteNotFoundError(ServingError):
    """No such path."""

    status_code = 404


class MethodNotAllowedError(ServingError):
    """The path exists but not with this method."""

    status_code = 405


class ModelNotReadyError(ServingError):
    """The model is still loading (or failed to load)."""

    status_code = 503


class InferenceFailedError(ServingError):
    """The model failed on input that passed validation: a bug, not bad input."""

    status_code = 500


class ModelLoadError(Exception):
    """The model version cannot be served (missing, tampered, or not loadable); the process exits."""


def from_validation_errors(errors: Sequence[Any]) -> ServingError:
    """A pydantic error list as one error: 400 for malformed JSON, else 422 naming the fields."""
    for error in errors:
        if error.get("type") == "json_invalid":
            return BadRequestError(f"malformed JSON body: {error.get('msg', 'invalid JSON')}")
    parts = []
    for error in errors[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = str(error.get("msg", "invalid"))
        parts.append(f"{location}: {message}" if location else message)
    more = f" (and {len(errors) - 5} more problems)" if len(errors) > 5 else ""
    return InvalidInputError("invalid request body: " + "; ".join(parts) + more)


def to_serving_error(exc: Exception) -> ServingError:
    """The `ServingError` that stands for any exception a request raised."""
    if isinstance(exc, ServingError):
        return exc
    if isinstance(exc, RequestValidationError | ValidationError):
        return from_validation_errors(exc.errors())
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return RouteNotFoundError("no such path")
        if exc.status_code == 405:
            return MethodNotAllowedError("method not allowed on this path")
        error = ServingError(str(exc.detail))
        error.status_code = exc.status_code  # keep the framework's own status
        return error
    return InferenceFailedError(f"internal error: {type(exc).__name__}")


def error_body(error: ServingError) -> bytes:
    return orjson.dumps({"error": error.message})


def error_response(exc: Exception) -> Response:
    error = to_serving_error(exc)
    return Response(error_body(error), status_code=error.status_code, media_type="application/json")


async def handle_error(request: Request, exc: Exception) -> Response:
    """The one exception handler of the app (registered for every error class it can see)."""
    return error_response(exc)
