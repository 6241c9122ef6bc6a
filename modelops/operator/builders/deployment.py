"""The serving Deployment: `python -m modelops.serving` on the resolved model, rolled without downtime."""

from __future__ import annotations

from modelops.operator import naming
from modelops.operator.builders.common import (
    Manifest,
    container_security_context,
    metadata,
    pod_security_context,
    resources,
    store_env,
    store_env_from,
    volume_mounts,
    volumes,
)
from modelops.operator.settings import OperatorSettings

PORT = 8080
CONTAINER = "server"
COMPONENT = "serving"
PRESTOP_SECONDS = 5


def selector_labels(owner_name: str) -> dict[str, str]:
    """The Deployment's selector: immutable, so only labels that never change."""
    return {"modelops.io/modeldeployment": naming.bounded(owner_name), naming.COMPONENT_LABEL: COMPONENT}


def _probe(path: str, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def serving_deployment(owner: Manifest, *, model_uri: str, model_version: str, settings: OperatorSettings) -> Manifest:
    """Deployment of a ModelDeployment. A new `model_uri` changes the pod template: a rolling update."""
    name = owner["metadata"]["name"]
    labels = naming.labels(owner["kind"], name, COMPONENT)
    spec = owner["spec"]
    container: Manifest = {
        "name": CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "modelops.serving"],
        "env": [
            {"name": "MODEL_URI", "value": model_uri},
            {"name": "MODEL_NAME", "value": name},
            {"name": "HOME", "value": "/tmp"},
            *store_env(settings),
        ],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "livenessProbe": _probe("/v2/health/live", 10, 3),
        "readinessProbe": _probe("/v2/health/ready", 5, 3),
        # Loading and warming a model can take a while; do not let liveness kill it meanwhile.
        "startupProbe": _probe("/v2/health/live", 2, 60),
        # A terminating pod is removed from the Service's endpoints while it gets SIGTERM, and
        # kube-proxies apply that a moment later: keep serving meanwhile, or a rolling update
        # refuses connections (measured on a real node: 12 refused in one rollout without this).
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
        "resources": resources(spec.get("resources"), settings.serving_resources),
        "securityContext": container_security_context(),
        "volumeMounts": volume_mounts(settings),
    }
    if env_from := store_env_from(settings):
        container["envFrom"] = env_from
    pod_labels = {**labels, **selector_labels(name), "modelops.io/model-version": model_version[:63]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(owner, naming.serving_name(name), labels),
        # No `replicas`: the HPA owns it; an apply that set it would fight the autoscaler.
        "spec": {
            "selector": {"matchLabels": selector_labels(name)},
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": volumes(settings),
                },
            },
        },
    }
