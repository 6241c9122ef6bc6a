"""The autoscaling PromQL: one ModelDeployment's series, per pod for the HPA, pooled for KEDA."""

from __future__ import annotations

from modelops.contract.metrics import deployment_matchers, deployment_query, per_pod_query


def test_deployment_matchers_select_one_modeldeployment_in_one_namespace() -> None:
    assert deployment_matchers("ml", "iris") == 'namespace="ml",modeldeployment="iris"'


def test_matcher_values_are_escaped() -> None:
    assert deployment_matchers('a"b', "c\\d") == 'namespace="a\\"b",modeldeployment="c\\\\d"'


def test_deployment_totals_sum_over_every_pod() -> None:
    assert deployment_query("requestsPerSecond", "ml", "iris") == (
        'sum by () (rate(modelops_requests_total{namespace="ml",modeldeployment="iris",'
        'route=~".*/infer|/predict|/inference[.]GRPCInferenceService/ModelInfer"}[1m]))'
    )
    assert deployment_query("inflight", "ml", "iris") == (
        'sum by () (modelops_requests_in_flight{namespace="ml",modeldeployment="iris"})'
    )


def test_deployment_latency_is_the_quantile_of_the_pooled_histogram() -> None:
    assert deployment_query("latencyP95", "ml", "iris").startswith("histogram_quantile(0.95, sum by (le) (rate(")


def test_per_pod_queries_keep_namespace_and_pod_for_the_custom_metrics_api() -> None:
    assert per_pod_query("inflight", "<<.LabelMatchers>>") == (
        "sum by (namespace, pod) (modelops_requests_in_flight{<<.LabelMatchers>>})"
    )
