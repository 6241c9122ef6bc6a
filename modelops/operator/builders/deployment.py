"""The serving Deployment: `python -m modelops.serving` on the resolved model, rolled without downtime."""

from __future__ import annotations

from modelops.api.common import ModelVersion
from modelops.api.objects import ModelDeployment
from modelops.contract.serving import FEEDBACK_KEY_ENV, VERIFY_KEYS_DIR, ServingContract
from modelops.operator import naming
from modelops.operator.builders.common import (
    Manifest,
    container_security_context,
    env,
    metadata,
    pod_security_context,
    resources,
    store_env,
    store_env_from,
    volume_mounts,
    volumes,
)
from modelops.operator.decisions.modeldeployment import VERSION_LABEL, version_label
from modelops.operator.settings import OperatorSettings

CONTAINER = "server"
COMPONENT = "serving"
# The pods' own owner is a ReplicaSet: this names the ModelDeployment in full (labels are cut at 63).
OWNER_ANNOTATION = "modelops.io/modeldeployment"
# Endpoints drop a terminating pod a moment after SIGTERM; until then the server keeps accepting.
PRESTOP_SLEEP_SECONDS = 5


def selector_labels(md: ModelDeployment) -> dict[str, str]:
    """The Deployment's selector: immutable, so only labels that never change."""
    return {naming.owner_label(md.kind): naming.bounded(md.name), naming.COMPONENT_LABEL: COMPONENT}


def serving_contract(md: ModelDeployment, model: ModelVersion, settings: OperatorSettings) -> ServingContract:
    """What the serving pods are told: the model, the name it is served under, how to monitor it."""
    monitoring = md.spec.monitoring
    contract = ServingContract(
        model_uri=model.uri,
        model_name=md.name,
        signing_public_key=VERIFY_KEYS_DIR if settings.signing_public_keys else None,
        signature_required=settings.signatures_required,
    )
    if monitoring is None:
        return contract
    update = {"drift": monitoring.drift, "performance": monitoring.performance}
    return contract.model_copy(update={key: value for key, value in update.items() if value is not None})


def verify_volumes(settings: OperatorSettings) -> list[Manifest]:
    """The public keys a model's signature is checked against, when the operator was given them."""
    if settings.signing_public_keys is None:
        return []
    return [{"name": "verify", "configMap": {"name": settings.signing_public_keys}}]


def verify_mounts(settings: OperatorSettings) -> list[Manifest]:
    if settings.signing_public_keys is None:
        return []
    return [{"name": "verify", "mountPath": VERIFY_KEYS_DIR, "readOnly": True}]


def _probe(path: str, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def serving_deployment(md: ModelDeployment, model: ModelVersion, settings: OperatorSettings) -> Manifest:
    """Deployment of a ModelDeployment. A new model changes the pod template: a rolling update."""
    contract = serving_contract(md, model, settings)
    labels = naming.labels(md.kind, md.name, COMPONENT)
    container: Manifest = {
        "name": CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "modelops.serving"],
        "env": [
            *env({**contract.env(), "HOME": "/tmp", **store_env(settings)}),
            {
                "name": FEEDBACK_KEY_ENV,
                "valueFrom": {
                    "secretKeyRef": {"name": naming.serving_secret_name(md.name), "key": naming.FEEDBACK_KEY}
                },
            },
        ],
        "ports": [
            {"name": "http", "containerPort": contract.port, "protocol": "TCP"},
            {"name": "grpc", "containerPort": contract.grpc_port, "protocol": "TCP"},
        ],
        "livenessProbe": _probe("/v2/health/live", 10, 3),
        "readinessProbe": _probe("/v2/health/ready", 5, 3),
        # Loading and warming a model can take a while; do not let liveness kill it meanwhile.
        "startupProbe": _probe("/v2/health/live", 2, 60),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
        "resources": resources(md.spec.resources, settings.serving_resources),
        "securityContext": container_security_context(),
        # A server that cannot load its model says why on stderr and exits: that becomes the
        # termination message the operator reports as the ModelDeployment's Degraded reason.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [*volume_mounts(settings), *verify_mounts(settings)],
    }
    if env_from := store_env_from(settings):
        container["envFrom"] = env_from
    pod_labels = {
        **settings.serving_pod_labels,
        **labels,
        **selector_labels(md),
        VERSION_LABEL: version_label(model.version),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(md, naming.serving_name(md.name), labels),
        # No `replicas`: the autoscaler owns it; an apply that set it would fight the autoscaler.
        "spec": {
            "selector": {"matchLabels": selector_labels(md)},
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        OWNER_ANNOTATION: md.name,
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(contract.port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [*volumes(settings), *verify_volumes(settings)],
                },
            },
        },
    }
