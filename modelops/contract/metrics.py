"""Names of the serving metrics other parts read, and the PromQL that autoscaling is built on.

The serving pods export the raw series (modelops/serving/metrics.py); the HPA reads them through
prometheus-adapter's custom metrics API, a KEDA ScaledObject through a Prometheus query, the
operator's monitor and the chart's alerts and dashboard by these names. Renaming one is a
breaking change for all of them, which is why they live here and nowhere else.
"""

from __future__ import annotations

from typing import Final, Literal

AutoscalingMetric = Literal["requestsPerSecond", "latencyP95", "inflight"]

REQUESTS_TOTAL: Final = "modelops_requests_total"
# The label that names a series' ModelDeployment: the scrape config copies it from the pods'
# `modelops.io/modeldeployment` label (the chart's PodMonitor does), next to `namespace` and `pod`.
# The operator's own metrics use the same name, so one matcher selects both.
MODEL_DEPLOYMENT_LABEL: Final = "modeldeployment"
REQUEST_DURATION: Final = "modelops_request_duration_seconds"
REQUESTS_IN_FLIGHT: Final = "modelops_requests_in_flight"

# Routes that are predictions (the `route` label of REQUESTS_TOTAL): what "requests per second" counts.
INFERENCE_ROUTES: Final = r".*/infer|/predict|/inference[.]GRPCInferenceService/ModelInfer"

# Per-pod metric names as the custom metrics API serves them (prometheus-adapter `name.as`),
# and the HPA asks for them.
CUSTOM_METRIC_NAMES: Final[dict[AutoscalingMetric, str]] = {
    "requestsPerSecond": "modelops_requests_per_second",
    "latencyP95": "modelops_request_duration_seconds_p95",
    "inflight": "modelops_requests_in_flight",
}

RATE_WINDOW: Final = "1m"


def per_pod_query(metric: AutoscalingMetric, matchers: str) -> str:
    """PromQL of one autoscaling metric per pod; `matchers` is the label-matcher list without braces."""
    return _query(metric, matchers, ("namespace", "pod"))


def deployment_matchers(namespace: str, modeldeployment: str) -> str:
    """Label matchers of every serving series of one ModelDeployment (values quoted for PromQL)."""
    return f"namespace={_quoted(namespace)},{MODEL_DEPLOYMENT_LABEL}={_quoted(modeldeployment)}"


def deployment_query(metric: AutoscalingMetric, namespace: str, modeldeployment: str) -> str:
    """PromQL of one autoscaling metric over all pods of a ModelDeployment (a KEDA Prometheus trigger).

    requestsPerSecond and inflight are totals, which KEDA divides by the per-pod target
    (`DEPLOYMENT_METRIC_TYPES`: AverageValue); latencyP95 is the quantile of the pooled
    histogram, compared with the target as it is (Value).
    """
    return _query(metric, deployment_matchers(namespace, modeldeployment), ())


# How KEDA compares a deployment-level value with the per-pod target (the HPA metric target type).
DEPLOYMENT_METRIC_TYPES: Final[dict[AutoscalingMetric, Literal["AverageValue", "Value"]]] = {
    "requestsPerSecond": "AverageValue",
    "latencyP95": "Value",
    "inflight": "AverageValue",
}


def _query(metric: AutoscalingMetric, matchers: str, group: tuple[str, ...]) -> str:
    where = f"{matchers}," if matchers else ""
    by = ", ".join(group)
    if metric == "requestsPerSecond":
        return f'sum by ({by}) (rate({REQUESTS_TOTAL}{{{where}route=~"{INFERENCE_ROUTES}"}}[{RATE_WINDOW}]))'
    if metric == "latencyP95":
        return (
            f"histogram_quantile(0.95, sum by ({', '.join((*group, 'le'))}) "
            f'(rate({REQUEST_DURATION}_bucket{{{where}route=~"{INFERENCE_ROUTES}"}}[{RATE_WINDOW}])))'
        )
    return f"sum by ({by}) ({REQUESTS_IN_FLIGHT}{{{matchers}}})"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
