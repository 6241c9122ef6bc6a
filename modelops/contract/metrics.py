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
MODEL_DEPLOYMENT_LABEL: Final = "modeldeployment"
REQUEST_DURATION: Final = "modelops_request_duration_seconds"
REQUESTS_IN_FLIGHT: Final = "modelops_requests_in_flight"

# Routes that are predictions (the `route` label of REQUESTS_TOTAL): what "requests per second" counts.
INFERENCE_ROUTES: Final = r".*/infer|/predict"

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
    where = f"{matchers}," if matchers else ""
    if metric == "requestsPerSecond":
        return f'sum by (namespace, pod) (rate({REQUESTS_TOTAL}{{{where}route=~"{INFERENCE_ROUTES}"}}[{RATE_WINDOW}]))'
    if metric == "latencyP95":
        return (
            "histogram_quantile(0.95, sum by (namespace, pod, le) "
            f'(rate({REQUEST_DURATION}_bucket{{{where}route=~"{INFERENCE_ROUTES}"}}[{RATE_WINDOW}])))'
        )
    return f"sum by (namespace, pod) ({REQUESTS_IN_FLIGHT}{{{matchers}}})"
