"""Naming, conditions, settings and the one error mapping."""

from __future__ import annotations

import datetime as dt

import kopf
import pytest

from modelops.operator import naming
from modelops.operator.conditions import set_condition
from modelops.operator.errors import ReconcileError, classify
from modelops.operator.kube import KubeError
from modelops.operator.settings import OperatorSettings

from .operator_objects import NOW


def test_job_names_are_deterministic_and_bounded_with_the_suffix_intact() -> None:
    assert naming.prepare_job_name("iris", 2, 5) == "iris-prepare-2-5"
    long = naming.prepare_job_name("x" * 80, 12, 3)
    assert len(long) <= 63 and long.endswith("-prepare-12-3")
    assert long == naming.prepare_job_name("x" * 80, 12, 3)
    assert naming.parse_prepare_job(long) == (12, 3)
    assert naming.parse_prepare_job("iris-train-1") is None


def test_a_condition_keeps_its_transition_time_until_its_status_flips() -> None:
    first = set_condition([], "Ready", False, "Waiting", "a", generation=1, now=NOW)
    later = NOW + dt.timedelta(minutes=5)
    same = set_condition(first, "Ready", False, "StillWaiting", "b", generation=2, now=later)
    assert same[0]["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    assert (same[0]["reason"], same[0]["observedGeneration"]) == ("StillWaiting", 2)
    flipped = set_condition(same, "Ready", True, "Done", "c", generation=2, now=later)
    assert flipped[0]["lastTransitionTime"] == "2026-01-02T03:09:05Z"


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_conflicts_throttling_and_server_errors_are_retried_later(status: int) -> None:
    outcome = classify(KubeError(status, "X", "y"))
    assert isinstance(outcome, kopf.TemporaryError) and outcome.delay is not None and outcome.delay > 0


@pytest.mark.parametrize("status", [400, 403, 422])
def test_refused_requests_are_permanent(status: int) -> None:
    assert isinstance(classify(KubeError(status, "Invalid", "bad")), kopf.PermanentError)


def test_network_trouble_is_temporary_and_a_bug_is_permanent() -> None:
    assert isinstance(classify(ConnectionRefusedError()), kopf.TemporaryError)
    assert isinstance(classify(ReconcileError("later")), kopf.TemporaryError)
    assert isinstance(classify(KeyError("spec")), kopf.PermanentError)


def test_settings_read_the_namespaces_and_pod_labels_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELOPS_NAMESPACES", "a, b,")
    monkeypatch.setenv("MODELOPS_JOB_POD_LABELS", '{"modelops.io/run-locally": "true"}')
    monkeypatch.setenv("MODELOPS_STORE", "file:///tmp/store")
    settings = OperatorSettings()
    assert settings.namespaces == ["a", "b"] and not settings.clusterwide
    assert settings.job_pod_labels == {"modelops.io/run-locally": "true"}


def test_an_empty_namespace_list_is_cluster_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELOPS_NAMESPACES", "")
    assert OperatorSettings().clusterwide


def test_a_store_the_pods_cannot_reach_is_refused() -> None:
    with pytest.raises(ValueError, match="file://, pvc:// or s3://"):
        OperatorSettings(store="ftp://x")
    with pytest.raises(ValueError, match="PVC_CLAIM"):
        OperatorSettings(store="pvc:///data", store_pvc_claim=None)
