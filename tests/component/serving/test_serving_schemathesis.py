"""Property-based tests of the real server against its own OpenAPI document (schemathesis).

Every documented operation gets generated valid and invalid requests; none may
answer 5xx, and every answer must match the documented status codes, content
types and response schemas. The document is the app's own (it does not depend
on the model), read at collection time so each operation is its own test case.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from modelops.serving.app import create_app
from modelops.serving.service import ModelService
from modelops.serving.settings import ServingSettings

from .serving_server import Server


def _document() -> dict[str, Any]:
    service = ModelService(ServingSettings(model_uri="file:///documentation/ns/models/x/0123456789abcdef"))
    document: dict[str, Any] = create_app(service).api.openapi()
    return document


schema = schemathesis.openapi.from_dict(_document())


def test_the_served_document_is_the_one_tested(server: Server) -> None:
    assert httpx.get(f"{server.url}/openapi.json").json() == _document()


@schema.parametrize()
@settings(
    max_examples=25,  # bounded: the suite stays fast on 2 shared cores
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_makes_the_server_fail_or_break_its_own_contract(case: Any, server: Server) -> None:
    case.call_and_validate(
        base_url=server.url,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
