"""Owners as the API server returns them, and a fixed clock, for the operator's unit tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def owner(kind: str, name: str, spec: dict[str, Any], *, generation: int = 1, **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "generation": generation},
        "spec": spec,
    }
    if status:
        obj["status"] = status
    return obj
