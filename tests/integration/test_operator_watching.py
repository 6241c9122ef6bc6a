"""The watch-driven operator on a real control plane: changes are acted on at once, idleness costs no writes."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelops.testing import ControlPlane
from modelops.testing.waiting import apply_objects, get_object, has_phase, wait_for

pytestmark = pytest.mark.integration
Kubectl = Callable[..., Any]
# What only the operator writes: server-side applies of children, its kinds' status, new Jobs and runs.
OPERATOR_WRITES = (
    ("APPLY", None),
    ("PATCH", "modeldeployments"),
    ("PATCH", "datasets"),
    ("PATCH", "trainingruns"),
    ("POST", "jobs"),
    ("POST", "trainingruns"),
)


def served(operator: Any, namespace: str, name: str) -> dict[str, Any]:
    uri = f"file://{operator.store}/{namespace}/models/{name}/0123456789abcdef"
    spec = {"model": {"uri": uri}, "replicas": {"min": 1, "max": 2}}
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": name}, "spec": spec}


def restart_with(operator: Any, **env: str) -> None:
    operator.stop()
    operator.extra_env = {f"MODELOPS_{k.upper()}": v for k, v in env.items()}
    operator.start()


def requests_by_verb_and_resource(control_plane: ControlPlane) -> Counter[tuple[str, str]]:
    text = control_plane.kubectl("get", "--raw", "/metrics", timeout=60).stdout
    counts: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "apiserver_request_total":
                counts[(sample.labels.get("verb", ""), sample.labels.get("resource", ""))] += int(sample.value)
    return counts


def operator_writes(delta: Counter[tuple[str, str]]) -> dict[tuple[str, str], int]:
    return {
        (verb, resource): count
        for (verb, resource), count in delta.items()
        if count and any(verb == v and (r is None or resource == r) for v, r in OPERATOR_WRITES)
    }


def test_a_child_edited_or_deleted_by_hand_is_put_back_within_seconds_without_a_resync(
    kubectl: Kubectl, namespace: str, operator: Any
) -> None:
    restart_with(operator, resync_interval="3600")  # no resync during the test: only the watch can act
    apply_objects(kubectl, namespace, served(operator, namespace, "iris"))
    wait_for("Ready", has_phase(kubectl, namespace, "md", "iris", "Ready"), alive=operator.exited)

    kubectl("set", "env", "deployment/iris", "-n", namespace, "MODELOPS_SERVING_MODEL_NAME=hijacked")
    kubectl("label", "service/iris", "-n", namespace, "app.kubernetes.io/managed-by=someone-else", "--overwrite")
    started = time.monotonic()
    wait_for(
        "the Service's label put back",
        lambda: (
            (get_object(kubectl, namespace, "service", "iris") or {})["metadata"]["labels"].get(
                "app.kubernetes.io/managed-by"
            )
            == "modelops"
        ),
        timeout=10,
        interval=0.1,
        alive=operator.exited,
    )
    wait_for(
        "the Deployment's env put back",
        lambda: "hijacked" not in str(get_object(kubectl, namespace, "deployment", "iris")),
        timeout=10,
        interval=0.1,
        alive=operator.exited,
    )
    restored_edit = time.monotonic() - started

    old = get_object(kubectl, namespace, "pdb", "iris")
    assert old is not None
    kubectl("delete", "pdb", "iris", "-n", namespace, "--wait=false")
    started = time.monotonic()
    wait_for(
        "a new PodDisruptionBudget",
        lambda: (
            (new := get_object(kubectl, namespace, "pdb", "iris")) and new["metadata"]["uid"] != old["metadata"]["uid"]
        ),
        timeout=10,
        interval=0.1,
        alive=operator.exited,
    )
    restored_delete = time.monotonic() - started
    print(f"hand edit put back in {restored_edit:.2f} s, deleted child in {restored_delete:.2f} s")
    assert restored_edit < 5 and restored_delete < 5


def test_an_idle_operator_makes_no_writes_through_several_resyncs(
    kubectl: Kubectl, namespace: str, operator: Any, control_plane: ControlPlane
) -> None:
    restart_with(operator, resync_interval="2")
    apply_objects(kubectl, namespace, *(served(operator, namespace, f"md-{i}") for i in range(5)))
    for i in range(5):
        wait_for(f"md-{i} Ready", has_phase(kubectl, namespace, "md", f"md-{i}", "Ready"), alive=operator.exited)
    time.sleep(3)  # the last status writes and their watch events settle

    before = requests_by_verb_and_resource(control_plane)
    time.sleep(8)  # four resync periods
    after = requests_by_verb_and_resource(control_plane)

    assert operator_writes(after - before) == {}
    assert "Traceback" not in operator.logs()
