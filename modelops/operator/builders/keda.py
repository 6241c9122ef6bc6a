"""A KEDA ScaledObject for `autoscaling.engine: KEDA`: the serving Deployment scaled by a Prometheus query.

KEDA runs the query (the contract's deployment-level PromQL) against the given Prometheus and
drives an HPA of its own, so the cluster needs no prometheus-adapter. Plain typed arguments in,
the manifest out: the handler decides when to build it, this only says what it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from modelops.api.objects import ModelDeployment
from modelops.contract.metrics import DEPLOYMENT_METRIC_TYPES, AutoscalingMetric, deployment_query
from modelops.operator import naming
from modelops.operator.builders.common import Manifest
from modelops.operator.builders.deployment import COMPONENT

API_VERSION = "keda.sh/v1alpha1"


def threshold(target: float) -> str:
    """A trigger threshold: KEDA parses it as a plain decimal number (no Kubernetes quantity suffixes)."""
    return f"{target:g}"


def scaled_object(
    *,
    name: str,
    namespace: str,
    owner_reference: Manifest,
    labels: Mapping[str, str],
    min_replicas: int,
    max_replicas: int,
    metric: AutoscalingMetric,
    target: float,
    server_address: str,
) -> Manifest:
    """ScaledObject `name` for the serving Deployment `name`, whose pods carry that name as their ModelDeployment.

    `target` is per pod, as in the spec: requests/s, seconds (latencyP95) or requests in flight.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "ScaledObject",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "ownerReferences": [dict(owner_reference)],
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicaCount": min_replicas,
            "maxReplicaCount": max_replicas,
            "triggers": [
                {
                    "type": "prometheus",
                    "metricType": DEPLOYMENT_METRIC_TYPES[metric],
                    "metadata": {
                        "serverAddress": server_address,
                        "query": deployment_query(metric, namespace, name),
                        "threshold": threshold(target),
                    },
                }
            ],
        },
    }


def serving_scaled_object(md: ModelDeployment, prometheus_url: str) -> Manifest:
    """The ScaledObject of a ModelDeployment with `autoscaling.engine: KEDA`."""
    autoscaling = md.spec.autoscaling
    if autoscaling is None or autoscaling.metric == "cpu":
        raise ValueError(f"ModelDeployment {md.name} does not scale on a serving metric")
    name = naming.serving_name(md.name)
    return scaled_object(
        name=name,
        namespace=md.namespace,
        owner_reference=md.owner_reference(),
        labels=naming.labels(md.kind, md.name, COMPONENT),
        min_replicas=md.spec.replicas.min,
        max_replicas=md.spec.replicas.max,
        metric=autoscaling.metric,
        target=autoscaling.target,
        server_address=prometheus_url,
    )
