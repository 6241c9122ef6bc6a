"""The e2e Prometheus scrapes what a PodMonitor selects, labelled as the Prometheus Operator labels it."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.testing.podmonitor import PodMonitorError, scrape_jobs

REACH = {"api_server": "https://10.0.0.1:6443"}


def monitor(**spec: Any) -> dict[str, Any]:
    body = {
        "namespaceSelector": {"any": True},
        "selector": {"matchLabels": {"app.kubernetes.io/managed-by": "modelops"}},
        "podMetricsEndpoints": [
            {
                "port": "http",
                "interval": "5s",
                "relabelings": [
                    {
                        "sourceLabels": ["__meta_kubernetes_pod_label_modelops_io_modeldeployment"],
                        "targetLabel": "modeldeployment",
                        "action": "replace",
                    }
                ],
            }
        ],
        **spec,
    }
    return {"kind": "PodMonitor", "metadata": {"name": "serving", "namespace": "ops"}, "spec": body}


def test_pods_are_kept_by_the_selectors_labels_and_the_endpoints_port() -> None:
    (job,) = scrape_jobs(monitor(), REACH)

    keeps = [rule for rule in job["relabel_configs"] if rule.get("action") == "keep"]
    assert keeps == [
        {
            "action": "keep",
            "source_labels": [
                "__meta_kubernetes_pod_label_app_kubernetes_io_managed_by",
                "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_managed_by",
            ],
            "regex": "(modelops);true",
        },
        {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "http"},
    ]
    assert job["scrape_interval"] == "5s"
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "api_server": "https://10.0.0.1:6443"}]


def test_series_get_namespace_and_pod_then_the_monitors_own_relabelings_in_prometheus_spelling() -> None:
    (job,) = scrape_jobs(monitor(), REACH)

    targets = [rule.get("target_label") for rule in job["relabel_configs"]]
    assert targets.index("namespace") < targets.index("pod") < targets.index("modeldeployment")
    assert job["relabel_configs"][-1] == {
        "source_labels": ["__meta_kubernetes_pod_label_modelops_io_modeldeployment"],
        "target_label": "modeldeployment",
        "action": "replace",
    }


def test_named_namespaces_limit_discovery() -> None:
    (job,) = scrape_jobs(monitor(namespaceSelector={"matchNames": ["a", "b"]}), REACH)

    assert job["kubernetes_sd_configs"][0]["namespaces"] == {"names": ["a", "b"]}


def test_a_field_it_does_not_translate_is_refused_not_ignored() -> None:
    with pytest.raises(PodMonitorError, match="matchExpressions"):
        scrape_jobs(monitor(selector={"matchExpressions": []}), REACH)
