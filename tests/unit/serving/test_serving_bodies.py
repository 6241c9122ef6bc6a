"""Request bodies: which content types are read, and JSON read within bounds, the same on every route."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from modelops.serving.bodies import count_containers, inspect_headers, read_json
from modelops.serving.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError


@pytest.mark.parametrize(
    "content_type",
    [
        b"text/plain",
        b"text/plain;charset=UTF-8",
        b"application/x-www-form-urlencoded",
        b"Multipart/Form-Data; boundary=x",
    ],
)
def test_the_types_a_browser_sends_cross_origin_unasked_are_refused(content_type: bytes) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="is not accepted: send application/json"):
        inspect_headers([(b"content-type", content_type)])


@pytest.mark.parametrize("content_type", [None, b"application/json", b"application/octet-stream", b"application/x-foo"])
def test_any_other_content_type_or_none_is_read_as_json(content_type: bytes | None) -> None:
    inspect_headers([] if content_type is None else [(b"content-type", content_type)])


def test_a_compressed_body_is_refused() -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="Content-Encoding br is not accepted"):
        inspect_headers([(b"content-encoding", b"br")])


def test_brackets_inside_strings_are_not_containers() -> None:
    body = json.dumps({"instances": [["[{", 'a "quoted" [x]'], ["}"]]}).encode()

    assert count_containers(body) == 4


def test_a_body_with_more_containers_than_the_rows_need_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLargeError, match="more than 12 JSON objects and arrays"):
        read_json(b'{"instances": [' + b"{}," * 12 + b"{}]}", max_containers=12, rows=10)


def test_brackets_in_strings_do_not_count_against_the_limit() -> None:
    body = json.dumps({"instances": [["{" * 50]]}).encode()

    assert read_json(body, max_containers=3, rows=1) == {"instances": [["{" * 50]]}


@pytest.mark.parametrize(("literal", "check"), [(b"NaN", math.isnan), (b"Infinity", math.isinf)])
def test_the_literals_python_writes_are_read(literal: bytes, check: Any) -> None:
    assert check(read_json(b"[" + literal + b"]", max_containers=1, rows=1)[0])


def test_malformed_json_is_a_bad_request_and_binary_data_gets_a_hint() -> None:
    with pytest.raises(BadRequestError, match="malformed JSON body"):
        read_json(b'{"a": ', max_containers=9, rows=1)
    with pytest.raises(BadRequestError, match="needs the Inference-Header-Content-Length header"):
        read_json(b'{"a": "\xff\xfe"}', max_containers=9, rows=1)


@pytest.mark.parametrize("path", ["/predict", "/feedback", "/v2/models/iris/infer"])
def test_every_route_reads_json_whatever_the_content_type_says(iris_client: Any, path: str) -> None:
    body = {
        "/predict": {"instances": [[5.1, 3.5, 1.4, 0.2]]},
        "/feedback": {"feedback": [{"prediction_id": "x", "label": "setosa"}]},
        "/v2/models/iris/infer": {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]},
    }[path]

    for headers in ({}, {"content-type": "application/octet-stream"}):
        answer = iris_client.post(path, content=json.dumps(body).encode(), headers=headers)
        # /feedback's id is not one of ours: a 422 saying so proves the body was read.
        assert answer.status_code in (200, 422) and "valid dictionary" not in answer.text, answer.text
