"""The autoscaling/v2 HPA: a Pods metric from the serving metrics (custom metrics API), or CPU."""

from __future__ import annotations

from typing import Any

from modelops.operator import naming
from modelops.operator.builders.common import Manifest, metadata
from modelops.operator.builders.deployment import COMPONENT

# Names as prometheus-adapter exposes the serving pods' series (see modelops/serving/metrics.py).
POD_METRICS = {
    "requestsPerSecond": "modelops_requests_per_second",
    "latencyP95": "modelops_request_duration_seconds_p95",
    "inflight": "modelops_requests_in_flight",
}
DEFAULT_CPU_UTILIZATION = 80


def quantity(value: float) -> str:
    """A Kubernetes quantity for a per-pod target: integers as is, fractions in milli-units."""
    if float(value).is_integer():
        return str(int(value))
    return f"{round(value * 1000)}m"


def _metric(autoscaling: dict[str, Any] | None) -> Manifest:
    if not autoscaling or autoscaling.get("metric") == "cpu":
        # No serving metric asked for: CPU works on every cluster (metrics-server), no adapter needed.
        target = round(autoscaling["target"]) if autoscaling else DEFAULT_CPU_UTILIZATION
        return {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": max(1, target)}},
        }
    return {
        "type": "Pods",
        "pods": {
            "metric": {"name": POD_METRICS[autoscaling.get("metric", "requestsPerSecond")]},
            "target": {"type": "AverageValue", "averageValue": quantity(float(autoscaling["target"]))},
        },
    }


def serving_hpa(owner: Manifest) -> Manifest:
    name = owner["metadata"]["name"]
    spec = owner["spec"]
    replicas = spec.get("replicas") or {}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(owner, naming.serving_name(name), naming.labels(owner["kind"], name, COMPONENT)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": naming.serving_name(name)},
            "minReplicas": int(replicas.get("min", 1)),
            "maxReplicas": int(replicas.get("max", 3)),
            "metrics": [_metric(spec.get("autoscaling"))],
        },
    }
