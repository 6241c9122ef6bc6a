"""The chart's Argo CD health check, run as Argo CD runs it: its health_test.yaml over the captured objects,
and the rule behind it: generation, Ready and Stalled decide, sub-conditions never do."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from lupa import lua51

from modelops.testing.argocd import INVALID_STATUS, HealthStatus, HealthTest, health, health_tests
from tests.gitops_expectations import ARGOCD_CHECK, EXPECTED, HEALTH_SCRIPT, NOT_CAPTURED, captured_path

SCRIPT = HEALTH_SCRIPT.read_text()
CASES = health_tests(ARGOCD_CHECK)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.input_path.stem)
def test_health_test_yaml_case(case: HealthTest) -> None:
    assert health(SCRIPT, yaml.safe_load(case.input_path.read_text())) == case.expected


def test_every_captured_object_has_a_case_and_every_case_its_expected_status() -> None:
    captured = sorted((ARGOCD_CHECK / "testdata").glob("*.yaml"))
    assert sorted(case.input_path for case in CASES) == captured
    expected = {captured_path(*key): health for key, (_, health) in EXPECTED.items()}
    for case in CASES:
        assert case.expected.status == expected[case.input_path], case.input_path.name


def test_every_phase_has_a_captured_object_but_those_no_live_test_reaches() -> None:
    missing = {key for key in EXPECTED if not captured_path(*key).exists()}
    assert missing == set(NOT_CAPTURED)


def obj(generation: int = 2, observed: int = 2, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "run", "generation": generation},
        "status": {"observedGeneration": observed, "conditions": list(conditions)},
    }


def condition(type_: str, status: str, reason: str, message: str = "", generation: int = 2) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "observedGeneration": generation}


def test_stalled_is_degraded_with_its_reason_and_message() -> None:
    stalled = obj(2, 2, condition("Ready", "False", "GatesFailed"), condition("Stalled", "True", "Rejected", "f1 low"))
    assert health(SCRIPT, stalled) == HealthStatus("Degraded", "Rejected: f1 low")


def test_a_false_sub_condition_does_not_hide_a_ready_object() -> None:
    ready = obj(2, 2, condition("DataReady", "False", "Refreshing"), condition("Ready", "True", "Trained"))
    assert health(SCRIPT, ready) == HealthStatus("Healthy", "Trained")


def test_an_unobserved_generation_is_progressing_whatever_the_conditions_say() -> None:
    edited = obj(3, 2, condition("Ready", "True", "Trained"), condition("Stalled", "True", "Rejected"))
    assert health(SCRIPT, edited) == HealthStatus("Progressing", "Waiting for the operator to observe generation 3")


def test_conditions_of_an_older_generation_are_ignored() -> None:
    stale = obj(3, 3, condition("Ready", "True", "Trained", generation=2))
    assert health(SCRIPT, stale).status == "Progressing"


def test_an_object_the_operator_has_not_seen_is_progressing() -> None:
    new = {"kind": "Dataset", "metadata": {"name": "d", "generation": 1}}
    assert health(SCRIPT, new) == HealthStatus("Progressing", "Waiting for the operator to reconcile")


def test_the_runtime_has_no_string_library_as_in_argo_cd() -> None:
    with pytest.raises(lua51.LuaError):
        health('return {status = ("healthy"):upper()}', {})


def test_the_runtime_reads_an_unknown_status_as_argo_cd_does() -> None:
    assert health('return {status = "Fine"}', {}) == HealthStatus("Unknown", INVALID_STATUS)


def test_captured_objects_are_whole_manifests() -> None:
    for case in CASES:
        captured = yaml.safe_load(case.input_path.read_text())
        assert {"apiVersion", "kind", "metadata", "spec", "status"} <= set(captured), case.input_path.name
        assert captured["metadata"]["namespace"] == "demo" and "managedFields" not in captured["metadata"]
