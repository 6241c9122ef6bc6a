"""A PodMonitor as the Prometheus Operator turns it into a Prometheus scrape job.

The e2e cluster runs a plain Prometheus, not the Prometheus Operator, yet must scrape the serving
pods exactly as the chart's PodMonitor tells a user's Prometheus to: Kubernetes service discovery
of pods, kept by the monitor's label selector and port, labelled with ``namespace``, ``pod`` and
``container``, then the monitor's own relabelings (which add ``modeldeployment``). This is the
part of the operator's generator those monitors use (``matchLabels``, ``matchNames`` / ``any``,
``port``, ``path``, ``interval``, ``relabelings``); anything else is refused rather than ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["PodMonitorError", "scrape_jobs"]

_SUPPORTED_ENDPOINT_KEYS = frozenset({"port", "path", "interval", "relabelings"})
_SUPPORTED_SELECTOR_KEYS = frozenset({"matchLabels"})


class PodMonitorError(ValueError):
    """The PodMonitor uses a field this translation does not implement."""


def _label(name: str) -> str:
    """A Kubernetes label name as a Prometheus meta label suffix (every other character becomes ``_``)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _relabeling(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A PodMonitor relabeling (camelCase, action in any case) in Prometheus' own spelling."""
    names = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    converted = {names.get(key, key): value for key, value in rule.items()}
    if "action" in converted:
        converted["action"] = str(converted["action"]).lower()
    return converted


def scrape_jobs(monitor: Mapping[str, Any], kubernetes_sd: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One scrape job per endpoint of ``monitor``; ``kubernetes_sd`` holds how to reach the API server
    (``api_server``, ``tls_config``), as a Prometheus outside the cluster needs."""
    meta, spec = monitor["metadata"], monitor["spec"]
    selector = spec.get("selector", {})
    if unknown := set(selector) - _SUPPORTED_SELECTOR_KEYS:
        raise PodMonitorError(f"selector fields {sorted(unknown)} are not translated")
    namespaces = spec.get("namespaceSelector", {})
    sd: dict[str, Any] = {"role": "pod", **kubernetes_sd}
    if not namespaces.get("any"):
        sd["namespaces"] = {"names": list(namespaces.get("matchNames") or [meta["namespace"]])}
    jobs = []
    for index, endpoint in enumerate(spec["podMetricsEndpoints"]):
        if unknown := set(endpoint) - _SUPPORTED_ENDPOINT_KEYS:
            raise PodMonitorError(f"podMetricsEndpoints fields {sorted(unknown)} are not translated")
        relabel: list[dict[str, Any]] = [
            {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
            # finished pods keep their address for a while: never scrape them
            {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
        ]
        for key, value in selector.get("matchLabels", {}).items():
            relabel.append(
                {
                    "action": "keep",
                    "source_labels": [
                        f"__meta_kubernetes_pod_label_{_label(key)}",
                        f"__meta_kubernetes_pod_labelpresent_{_label(key)}",
                    ],
                    "regex": f"({re.escape(value)});true",
                }
            )
        port = endpoint["port"]
        relabel += [
            {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"target_label": "job", "replacement": f"{meta['namespace']}/{meta['name']}"},
            {"target_label": "endpoint", "replacement": port},
            *(_relabeling(rule) for rule in endpoint.get("relabelings", [])),
        ]
        job: dict[str, Any] = {
            "job_name": f"podMonitor/{meta['namespace']}/{meta['name']}/{index}",
            "honor_labels": False,
            "kubernetes_sd_configs": [sd],
            "metrics_path": endpoint.get("path", "/metrics"),
            "relabel_configs": relabel,
        }
        if "interval" in endpoint:
            job["scrape_interval"] = endpoint["interval"]
        jobs.append(job)
    return jobs
