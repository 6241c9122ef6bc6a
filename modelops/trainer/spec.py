"""Parsing a Dataset / TrainingRun `.spec` into its API model, with errors that name the field.

The shapes themselves are the CRDs' models in `modelops.api`; the operator hands
the CR's whole stored `.spec` over as JSON (`--spec-json`).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from modelops.trainer.errors import SpecError

SpecT = TypeVar("SpecT", bound=BaseModel)


def describe_validation_error(error: ValidationError, root: str = "spec") -> str:
    """One line per problem, each naming the field: `spec.cleaning.outliers.method: ...`."""
    lines = []
    for item in error.errors():
        path = ".".join([root, *(str(part) for part in item["loc"] if not _is_union_tag(part))])
        lines.append(f"{path}: {item['msg']}")
    return "; ".join(lines)


def _is_union_tag(part: int | str) -> bool:
    # pydantic inserts the tried member's type name (e.g. "int", "str" for fillValue) into a union's error path.
    return isinstance(part, str) and (part[:1].isupper() or part in ("str", "int", "float", "bool"))


def spec_object(text: str) -> dict[str, Any]:
    """The JSON object `text` holds; raises SpecError when it holds anything else."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"spec is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise SpecError("spec must be a JSON object")
    return data


def parse_spec(model: type[SpecT], data: str | dict[str, Any]) -> SpecT:
    """Parse a spec from JSON text or a dict; raises SpecError naming the bad field."""
    try:
        return model.model_validate(spec_object(data) if isinstance(data, str) else data)
    except ValidationError as e:
        raise SpecError(describe_validation_error(e)) from e
