"""Owners as the operator sees them (parsed from what the API server returns), and a fixed clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from modelops.api.objects import Dataset, ModelDeployment, TrainingRun

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
STORE = "pvc:///data/store"
MODEL_URI = f"{STORE}/ns/models/rf/0123456789abcdef"


def _raw(kind: str, name: str, spec: dict[str, Any], generation: int, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "generation": generation,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": spec,
        "status": status,
    }


def dataset(name: str, spec: dict[str, Any], *, generation: int = 1, **status: Any) -> Dataset:
    return Dataset.model_validate(_raw("Dataset", name, spec, generation, status))


def training_run(name: str, spec: dict[str, Any], *, generation: int = 1, **status: Any) -> TrainingRun:
    return TrainingRun.model_validate(_raw("TrainingRun", name, spec, generation, status))


def model_deployment(name: str, spec: dict[str, Any], *, generation: int = 1, **status: Any) -> ModelDeployment:
    return ModelDeployment.model_validate(_raw("ModelDeployment", name, spec, generation, status))
