"""prometheus-adapter rules: the per-pod custom metrics the HPAs ask for, computed by the contract's PromQL."""

from __future__ import annotations

from typing import Any

from modelops.contract.metrics import (
    CUSTOM_METRIC_NAMES,
    REQUEST_DURATION,
    REQUESTS_IN_FLIGHT,
    REQUESTS_TOTAL,
    AutoscalingMetric,
    per_pod_query,
)

# The series each custom metric is computed from: the adapter lists the metric for the pods that have it.
SOURCE_SERIES: dict[AutoscalingMetric, str] = {
    "requestsPerSecond": REQUESTS_TOTAL,
    "latencyP95": f"{REQUEST_DURATION}_bucket",
    "inflight": REQUESTS_IN_FLIGHT,
}
# prometheus-adapter fills in the selected pods' matchers (namespace and pod names) here.
LABEL_MATCHERS = "<<.LabelMatchers>>"


def rule(metric: AutoscalingMetric) -> dict[str, Any]:
    series = SOURCE_SERIES[metric]
    return {
        "seriesQuery": f'{series}{{namespace!="",pod!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{series}$", "as": CUSTOM_METRIC_NAMES[metric]},
        "metricsQuery": per_pod_query(metric, LABEL_MATCHERS),
    }


def adapter_config() -> dict[str, Any]:
    """prometheus-adapter's config.yaml: one rule per autoscaling metric."""
    return {"rules": [rule(metric) for metric in CUSTOM_METRIC_NAMES]}
