"""Live objects in every phase, as GitOps tools read them: kstatus (sigs.k8s.io/cli-utils, what Flux's
`wait: true` runs) and the chart's Argo CD health check, on objects the real operator drives.

With MODELOPS_CAPTURE_TESTDATA=1 the objects are also written to the Argo CD check's testdata/ and
health_test.yaml (the captures the Argo CD test replays): run this module again after a change
to the status the operator writes. A ModelDeployment Degraded by crashing pods needs a kubelet
that runs readiness probes: tests/e2e/test_faults.py observes (and captures) it on the real node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from modelops.testing import ProcessKubelet
from modelops.testing.waiting import apply_objects, get_object, wait_for
from tests.gitops_expectations import observe

pytestmark = pytest.mark.integration
Kubectl = Callable[..., Any]


def dataset(name: str = "iris", **spec: Any) -> dict[str, Any]:
    body = {"source": {"builtin": {"name": "iris"}}, "target": "target", **spec}
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "Dataset", "metadata": {"name": name}, "spec": body}


def run(name: str, *, hyperparameters: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    model = {"algorithm": "logistic_regression", "hyperparameters": hyperparameters or {}}
    body = {"datasetRef": {"name": "iris"}, "task": "classification", "model": model, **spec}
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "TrainingRun", "metadata": {"name": name}, "spec": body}


def served(name: str, run: str = "iris-lr", **spec: Any) -> dict[str, Any]:
    body = {"model": {"trainingRunRef": {"name": run}}, "replicas": {"min": 1, "max": 2}, **spec}
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": name}, "spec": body}


def check(kubectl: Kubectl, namespace: str, kind: str, name: str, phase: str, operator: Any) -> None:
    """Wait for `phase`, then compare kstatus and Argo CD health of the live object with EXPECTED."""

    def in_phase() -> dict[str, Any] | None:
        obj = get_object(kubectl, namespace, kind, name)
        return obj if obj and (obj.get("status") or {}).get("phase") == phase else None

    obj = wait_for(f"{kind} {name} {phase}", in_phase, interval=0.2, timeout=150, alive=operator.exited)
    observe(namespace, obj["kind"], phase, obj)


def test_a_dataset_is_in_progress_while_prepared_then_current(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, dataset())
    check(kubectl, namespace, "dataset", "iris", "Running", operator)
    check(kubectl, namespace, "dataset", "iris", "Ready", operator)


def test_a_dataset_with_bad_input_is_failed(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, dataset(target="no_such_column"))
    check(kubectl, namespace, "dataset", "iris", "Failed", operator)


def test_a_training_run_waits_for_data_runs_and_is_current_once_succeeded(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, run("iris-lr"), dataset())
    check(kubectl, namespace, "trainingrun", "iris-lr", "WaitingForData", operator)
    check(kubectl, namespace, "trainingrun", "iris-lr", "Running", operator)
    check(kubectl, namespace, "trainingrun", "iris-lr", "Succeeded", operator)


def test_a_training_run_below_its_gates_is_failed_and_so_is_a_model_deployment_of_it(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    weak = run("iris-weak", hyperparameters={"C": 0.0001}, validation={"minMetrics": {"accuracy": 0.95}})
    apply_objects(kubectl, namespace, dataset(), weak, served("iris", run="iris-weak"))
    check(kubectl, namespace, "trainingrun", "iris-weak", "Rejected", operator)
    check(kubectl, namespace, "modeldeployment", "iris", "Failed", operator)


def test_a_training_run_with_bad_input_is_failed(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, dataset(), run("iris-typo", hyperparameters={"no_such_parameter": 1}))
    check(kubectl, namespace, "trainingrun", "iris-typo", "Failed", operator)


def test_a_model_deployment_is_in_progress_until_ready_and_again_after_an_unobserved_edit(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, served("iris"))
    check(kubectl, namespace, "modeldeployment", "iris", "Pending", operator)
    # Pods that no node can hold keep this one's rollout going.
    unschedulable = served("iris-huge", resources={"requests": {"cpu": "1000"}})
    apply_objects(kubectl, namespace, dataset(), run("iris-lr"), unschedulable)
    check(kubectl, namespace, "modeldeployment", "iris-huge", "Deploying", operator)
    check(kubectl, namespace, "modeldeployment", "iris", "Ready", operator)

    operator.stop()
    kubectl(
        "patch", "modeldeployment", "iris", "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":{"max":3}}}'
    )
    edited = get_object(kubectl, namespace, "modeldeployment", "iris")
    assert edited is not None and edited["status"]["phase"] == "Ready"
    observe(namespace, "ModelDeployment", "NewGeneration", edited)
    operator.start()
