"""Small, fast models for the rollout and fault tests: iris, served from ``fromLatest``."""

from __future__ import annotations

import json
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

from modelops.testing.localcluster import LocalCluster
from modelops.testing.system import wait_until_served
from modelops.testing.waiting import apply_objects, has_phase, wait_for

Kubectl = Callable[..., CompletedProcess[str]]
LABELS = {"app.kubernetes.io/name": "iris"}
ROW = [5.1, 3.5, 1.4, 0.2]


def training_run(name: str, algorithm: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": name, "labels": LABELS},
        "spec": {
            "datasetRef": {"name": "iris"},
            "task": "classification",
            "model": {"algorithm": algorithm, "hyperparameters": hyperparameters},
        },
    }


def dataset() -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "iris"},
        "spec": {"source": {"builtin": {"name": "iris"}}, "target": "target"},
    }


def serve_iris(cluster: LocalCluster, kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    """In ``namespace``: the iris Dataset, a decision tree, and ModelDeployment ``name`` serving the
    newest iris run with two replicas; the ModelDeployment's status once Ready."""
    deployment = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name},
        "spec": {
            "model": {"fromLatest": {"matchLabels": LABELS}},
            "replicas": {"min": 2, "max": 2},
            "resources": {"requests": {"cpu": "50m", "memory": "200Mi"}, "limits": {"memory": "512Mi"}},
        },
    }
    apply_objects(kubectl, namespace, dataset(), training_run("iris-tree", "decision_tree", {"max_depth": 2}))
    wait_for("iris-tree Succeeded", has_phase(kubectl, namespace, "tr", "iris-tree", "Succeeded"), timeout=600)
    apply_objects(kubectl, namespace, deployment)
    return wait_until_served(cluster, namespace, name)


def predict_url(status: dict[str, Any]) -> str:
    """The Service's simple JSON route (``/predict``), from the ModelDeployment's V2 endpoint."""
    return str(status["endpoint"]).split("/v2/", 1)[0] + "/predict"


def serving_pods(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    """The pods of the namespace's Deployments (the serving pods: Jobs' pods carry no template hash)."""
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-l", "pod-template-hash", "-o", "json").stdout)
    return list(pods["items"])


def rollout_settled(kubectl: Kubectl, namespace: str) -> bool:
    """Only one ReplicaSet's pods are left, none of them terminating.

    A ModelDeployment is Ready once its new pods are; the old ones still answer on the connections
    they hold for their preStop pause and graceful shutdown.
    """
    pods = serving_pods(kubectl, namespace)
    hashes = {pod["metadata"]["labels"]["pod-template-hash"] for pod in pods}
    return len(hashes) == 1 and not any(pod["metadata"].get("deletionTimestamp") for pod in pods)
