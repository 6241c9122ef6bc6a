"""Request bodies before a route reads them: the content types taken, and JSON read within bounds.

Content types. Every route takes a JSON body whatever its Content-Type says (clients differ;
KServe's sends `application/json`, Triton's none, binary requests `application/octet-stream`),
except the three a browser page may send to another origin without a CORS preflight —
`text/plain`, `application/x-www-form-urlencoded`, `multipart/form-data` — which are refused
(415), so no web page can make a visitor's browser call the server. Compressed bodies are
refused the same way (nothing here inflates them).

JSON. orjson reads it; a body it refuses is read again by pydantic-core, which also takes the
`NaN` and `Infinity` literals Python's `json.dumps` writes (validation takes NaN as missing and
refuses infinity with a 422 naming the feature). Before either builds a Python object, the
containers of the body (JSON objects and arrays outside strings) are counted: a body of a few
megabytes of `{}` would otherwise become millions of dicts (1.4 GB for 8 MiB) before the row
limit could refuse it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import pydantic_core

from modelops.serving.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

# Content types a cross-origin page can send without a preflight (the Fetch standard's CORS-safelisted ones).
BROWSER_SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
INFERENCE_HEADER = b"inference-header-content-length"
_READ_AS_IS = frozenset({b"application/json", b"application/octet-stream"})  # what clients send: no parsing
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


@dataclass(slots=True)  # built per request: see inference.Tensor
class BodyHeaders:
    """What the headers say about the body."""

    length: int | None  # Content-Length
    json_length: int | None  # Inference-Header-Content-Length: the JSON part of a binary tensor body


def inspect_headers(headers: Iterable[tuple[bytes, bytes]]) -> BodyHeaders:
    """The body's lengths; 415 for a content type a browser sends cross-origin unasked, or a compressed body."""
    length: int | None = None
    json_length: int | None = None
    for key, value in headers:  # one pass: this runs on every request
        if key == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif key == b"content-type" and value not in _READ_AS_IS:
            media = value.split(b";", 1)[0].strip().lower().decode("latin-1")
            if media in BROWSER_SIMPLE_TYPES:
                raise UnsupportedMediaTypeError(
                    f"Content-Type {media} is not accepted: send application/json (or application/octet-stream "
                    f"with the binary tensor data extension)"
                )
        elif key == INFERENCE_HEADER:
            try:
                json_length = int(value)
            except ValueError:
                raise BadRequestError(f"Inference-Header-Content-Length {value!r} is not a number") from None
            if json_length < 0:
                raise BadRequestError(f"Inference-Header-Content-Length {json_length} is negative")
        elif key == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            raise UnsupportedMediaTypeError(
                f"Content-Encoding {value.decode('latin-1')} is not accepted: send the body uncompressed"
            )
    return BodyHeaders(length, json_length)


def count_containers(body: bytes) -> int:
    """JSON objects and arrays in `body`, not counting brackets inside strings."""
    if b'"' in body:
        body = _STRING.sub(b"", body)
    return body.count(b"{") + body.count(b"[")


def read_json(body: bytes, *, max_containers: int, rows: int) -> Any:
    """The parsed body; 413 when it holds more containers than `rows` rows can, 400 when not JSON."""
    # The plain count is an upper bound (brackets in strings count too): exact only when it matters.
    if (
        len(body) > max_containers  # a body holds fewer containers than bytes: small ones need no count
        and body.count(b"{") + body.count(b"[") > max_containers
        and count_containers(body) > max_containers
    ):
        raise PayloadTooLargeError(
            f"the body holds more than {max_containers} JSON objects and arrays, more than a request of at most "
            f"{rows} rows needs"
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        error = str(e)
    try:
        return pydantic_core.from_json(body, allow_inf_nan=True)
    except ValueError:
        pass
    hint = ""
    if "UTF-8" in error:
        hint = " (binary tensor data needs the Inference-Header-Content-Length header giving the JSON part's length)"
    raise BadRequestError(f"malformed JSON body: {error}{hint}")
