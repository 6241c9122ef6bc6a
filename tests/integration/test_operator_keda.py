"""autoscaling.engine KEDA: the operator owns a ScaledObject instead of an HPA, and switches back cleanly."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from modelops.testing.waiting import apply_objects, get_object, has_phase, status_of, wait_for

pytestmark = pytest.mark.integration
Kubectl = Callable[..., Any]


def served(operator: Any, namespace: str, engine: str) -> dict[str, Any]:
    uri = f"file://{operator.store}/{namespace}/models/iris/0123456789abcdef"
    spec = {
        "model": {"uri": uri},
        "replicas": {"min": 1, "max": 4},
        "autoscaling": {"engine": engine, "metric": "requestsPerSecond", "target": 50},
    }
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": "iris"}, "spec": spec}


@pytest.mark.parametrize("operator", ["keda"], indirect=True)
def test_keda_scales_the_model_with_a_scaled_object_and_an_hpa_takes_over_when_asked(
    kubectl: Kubectl, namespace: str, operator: Any, third_party_crds: list[str]
) -> None:
    apply_objects(kubectl, namespace, served(operator, namespace, "KEDA"))
    wait_for("Ready", has_phase(kubectl, namespace, "md", "iris", "Ready"), alive=operator.exited)
    scaled = get_object(kubectl, namespace, "scaledobject.keda.sh", "iris")
    assert scaled is not None
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["metadata"]["serverAddress"] == "http://prometheus.monitoring.svc:9090"
    assert f'namespace="{namespace}"' in trigger["metadata"]["query"]
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (1, 4)
    assert get_object(kubectl, namespace, "hpa", "iris") is None

    patch = json.dumps({"spec": {"autoscaling": {"engine": "HPA"}}})
    kubectl("patch", "md", "iris", "-n", namespace, "--type=merge", "-p", patch)
    wait_for("the HPA", lambda: get_object(kubectl, namespace, "hpa", "iris"), alive=operator.exited)
    wait_for(
        "the ScaledObject gone",
        lambda: get_object(kubectl, namespace, "scaledobject.keda.sh", "iris") is None,
        alive=operator.exited,
    )


def test_an_operator_without_keda_refuses_the_engine_naming_what_is_missing(
    kubectl: Kubectl, namespace: str, operator: Any
) -> None:
    apply_objects(kubectl, namespace, served(operator, namespace, "KEDA"))

    wait_for("Failed", has_phase(kubectl, namespace, "md", "iris", "Failed"), alive=operator.exited)
    ready = next(c for c in status_of(kubectl, namespace, "md", "iris")["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "KedaNotConfigured" and "keda.enabled" in ready["message"]
    assert get_object(kubectl, namespace, "deployment", "iris") is None
