"""Naming, conditions, settings and the one error mapping."""

from __future__ import annotations

import datetime as dt

import kopf
import pytest

from modelops.operator import naming
from modelops.operator.errors import classify, outcomes
from modelops.operator.kube import (
    ConflictError,
    InvalidError,
    KubeError,
    NotFoundError,
    ServerError,
    TooManyRequestsError,
    error_for,
)
from modelops.operator.settings import OperatorSettings
from modelops.operator.status import merge_patch, set_condition

from .operator_objects import NOW


def test_job_names_are_deterministic_and_bounded_with_the_suffix_intact() -> None:
    assert naming.prepare_job_name("iris", naming.JobRun(2, 5)) == "iris-prepare-2-5"
    long = naming.prepare_job_name("x" * 80, naming.JobRun(12, 3))
    assert len(long) <= 63 and long.endswith("-prepare-12-3")
    assert long == naming.prepare_job_name("x" * 80, naming.JobRun(12, 3))
    assert naming.parse_prepare_job(long) == naming.JobRun(12, 3)
    assert naming.parse_prepare_job("iris-train-1") is None


def test_a_condition_keeps_its_transition_time_until_its_status_flips() -> None:
    first = set_condition([], "Ready", False, "Waiting", "a", generation=1, now=NOW)
    later = NOW + dt.timedelta(minutes=5)
    same = set_condition(first, "Ready", False, "StillWaiting", "b", generation=2, now=later)
    assert same[0].last_transition_time == "2026-01-02T03:04:05Z"
    assert (same[0].reason, same[0].observed_generation) == ("StillWaiting", 2)
    flipped = set_condition(same, "Ready", True, "Done", "c", generation=2, now=later)
    assert flipped[0].last_transition_time == "2026-01-02T03:09:05Z"


def test_a_status_write_sends_only_what_changed_and_nulls_what_went_away() -> None:
    old = {"phase": "Ready", "retraining": {"run": "r1", "reason": "drift"}, "rows": 3}
    new = {"phase": "Ready", "retraining": {"run": "r2", "reason": "drift"}}
    assert merge_patch(old, new) == {"retraining": {"run": "r2"}, "rows": None}
    assert merge_patch(new, new) == {}


@pytest.mark.parametrize(
    ("status", "cls"),
    [(404, NotFoundError), (409, ConflictError), (422, InvalidError), (429, TooManyRequestsError), (503, ServerError)],
)
def test_each_api_status_has_its_own_error_class(status: int, cls: type[KubeError]) -> None:
    error = error_for(status, "Reason", "what happened")
    assert type(error) is cls and error.status == status
    assert str(error) == f"{status} Reason: what happened"


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_conflicts_throttling_and_server_errors_are_retried_later(status: int) -> None:
    outcome = classify(error_for(status, "X", "y"))
    assert isinstance(outcome, kopf.TemporaryError) and outcome.delay is not None and outcome.delay > 0


@pytest.mark.parametrize("status", [400, 403, 422])
def test_refused_requests_are_permanent(status: int) -> None:
    assert isinstance(classify(error_for(status, "Invalid", "bad")), kopf.PermanentError)


def test_network_trouble_is_temporary_and_a_bug_is_permanent() -> None:
    assert isinstance(classify(ConnectionRefusedError()), kopf.TemporaryError)
    assert isinstance(classify(KeyError("spec")), kopf.PermanentError)


def test_an_unexpected_error_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(kopf.PermanentError), outcomes():
        raise KeyError("spec")
    (record,) = [r for r in caplog.records if r.name == "modelops.operator"]
    assert record.exc_info is not None and record.exc_info[0] is KeyError


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


def test_the_store_has_one_spelling_and_each_namespace_its_own_models_prefix() -> None:
    settings = OperatorSettings(store="pvc://data/store/", store_pvc_claim="c")
    assert settings.store == "pvc:///data/store"
    assert settings.models_prefix("team-a") == "pvc:///data/store/team-a/models/"


def test_extra_model_prefixes_are_a_comma_separated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELOPS_ALLOWED_MODEL_PREFIXES", "s3://shared/models/, s3://other/")
    assert OperatorSettings(store="s3://b").allowed_model_prefixes == ["s3://shared/models/", "s3://other/"]
