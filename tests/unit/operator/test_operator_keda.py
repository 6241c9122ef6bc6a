"""The KEDA ScaledObject builder: the contract's deployment-level PromQL, KEDA's field shapes, the owner's reference."""

from __future__ import annotations

import pytest

from modelops.contract.metrics import AutoscalingMetric, deployment_query
from modelops.operator.builders.keda import scaled_object, threshold

from .operator_objects import model_deployment

OWNER = model_deployment("iris", {"model": {"uri": "file:///store/ml/models/iris/0123456789abcdef"}}).owner_reference()


def build(metric: AutoscalingMetric = "requestsPerSecond", target: float = 20) -> dict[str, object]:
    return scaled_object(
        name="iris",
        namespace="ml",
        owner_reference=OWNER,
        labels={"app.kubernetes.io/managed-by": "modelops"},
        min_replicas=2,
        max_replicas=5,
        metric=metric,
        target=target,
        server_address="http://prometheus.monitoring:9090",
    )


def test_scales_the_serving_deployment_between_the_replica_bounds_and_is_owned() -> None:
    obj = build()
    assert obj["metadata"] == {
        "name": "iris",
        "namespace": "ml",
        "labels": {"app.kubernetes.io/managed-by": "modelops"},
        "ownerReferences": [OWNER],
    }
    spec = obj["spec"]
    assert isinstance(spec, dict)
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "iris"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 5)


@pytest.mark.parametrize(
    ("metric", "metric_type"),
    [("requestsPerSecond", "AverageValue"), ("inflight", "AverageValue"), ("latencyP95", "Value")],
)
def test_the_prometheus_trigger_runs_the_contract_query_of_the_deployment(
    metric: AutoscalingMetric, metric_type: str
) -> None:
    spec = build(metric)["spec"]
    assert isinstance(spec, dict)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == metric_type
    assert trigger["metadata"]["query"] == deployment_query(metric, "ml", "iris")
    assert trigger["metadata"]["serverAddress"] == "http://prometheus.monitoring:9090"


@pytest.mark.parametrize(("target", "text"), [(20, "20"), (0.25, "0.25"), (2.5, "2.5")])
def test_thresholds_are_plain_decimals_as_keda_parses_them(target: float, text: str) -> None:
    assert threshold(target) == text
