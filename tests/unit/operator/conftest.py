"""Fixtures of the operator's unit tests."""

from __future__ import annotations

import pytest

from modelops.operator.settings import OperatorSettings

from .operator_objects import STORE


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> OperatorSettings:
    for var in ("MODELOPS_STORE", "MODELOPS_NAMESPACES", "MODELOPS_JOB_POD_LABELS", "MODELOPS_IMAGE"):
        monkeypatch.delenv(var, raising=False)
    return OperatorSettings(store=STORE, store_pvc_claim="models", image="img:1", job_pod_labels={"extra": "yes"})
