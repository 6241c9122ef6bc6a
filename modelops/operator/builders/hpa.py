"""The autoscaling/v2 HPA: a Pods metric from the serving metrics (custom metrics API), or CPU."""

from __future__ import annotations

from modelops.api.modeldeployment import Autoscaling
from modelops.api.objects import ModelDeployment
from modelops.contract.metrics import CUSTOM_METRIC_NAMES
from modelops.operator import naming
from modelops.operator.builders.common import Manifest, metadata
from modelops.operator.builders.deployment import COMPONENT

# Without `spec.autoscaling`, scale on CPU: it works on every cluster with metrics-server, no adapter.
DEFAULT_CPU_UTILIZATION = 80


def quantity(value: float) -> str:
    """A Kubernetes quantity for a per-pod target: integers as is, fractions in milli-units."""
    if float(value).is_integer():
        return str(int(value))
    return f"{round(value * 1000)}m"


def _metric(autoscaling: Autoscaling | None) -> Manifest:
    if autoscaling is None or autoscaling.metric == "cpu":
        target = round(autoscaling.target) if autoscaling else DEFAULT_CPU_UTILIZATION
        return {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": max(1, target)}},
        }
    return {
        "type": "Pods",
        "pods": {
            "metric": {"name": CUSTOM_METRIC_NAMES[autoscaling.metric]},
            "target": {"type": "AverageValue", "averageValue": quantity(autoscaling.target)},
        },
    }


def serving_hpa(md: ModelDeployment) -> Manifest:
    name = naming.serving_name(md.name)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(md, name, naming.labels(md.kind, md.name, COMPONENT)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": md.spec.replicas.min,
            "maxReplicas": md.spec.replicas.max,
            "metrics": [_metric(md.spec.autoscaling)],
        },
    }
