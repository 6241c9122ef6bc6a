"""Fixtures of the e2e tests: the local cluster with a real node, the chart installed by helm.

One :class:`~modelops.testing.localcluster.LocalCluster` per session: a real control plane,
a kubelet + containerd + kube-proxy + CoreDNS node in its own network namespace, the project's
image built from its Dockerfile, and a real S3 server. The operator is installed once with
`helm install` of the chart (S3 store) for the namespaces of the test modules, each holding the
store's credentials Secret, and runs as a pod with only the chart's RBAC. It reads the serving
metrics from the cluster's Prometheus (``prometheus.url``), which scrapes the pods as the chart's
PodMonitor says; prometheus-adapter and metrics-server serve the HPAs.

Every test's duration (with the setup of the fixtures it is first to use) is printed at the end
of the run, with their total; pytest's last line gives the suite's wall time. So are the figures
the autoscaling and closed-loop tests measure, also written as JSON to ``$MODELOPS_E2E_FIGURES``
when it is set (``bench/loop`` reads them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from modelops.testing.localcluster import LocalCluster
from modelops.testing.system import OPERATOR_NAMESPACE, install_operator, store_secret

Kubectl = Callable[..., CompletedProcess[str]]
# one per test module; the pvc:// store test runs a second release for a namespace of its own
NAMESPACES = ("quickstart", "rollout", "faults", "autoscaling", "loop")
_DURATIONS: dict[str, float] = {}
_FIGURES: dict[str, dict[str, Any]] = {}
OPERATOR_LOG_LINES = 80


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster() as local:
        yield local
    # stop() has run: a non-empty list names each process, mount, chain... left on the machine
    assert local.leftovers == [], f"the local cluster left {local.leftovers}"


@pytest.fixture(scope="session")
def kubectl(cluster: LocalCluster) -> Kubectl:
    return cluster.control_plane.kubectl


@pytest.fixture(scope="session")
def operator(cluster: LocalCluster, kubectl: Kubectl) -> str:
    """The chart's operator running as a pod, reconciling :data:`NAMESPACES`; its own namespace."""
    for namespace in NAMESPACES:
        kubectl("create", "namespace", namespace)
        store_secret(cluster, namespace)
    install_operator(
        cluster,
        watchNamespaces="{" + ",".join(NAMESPACES) + "}",
        operator__logLevel="DEBUG",
        prometheus__url=cluster.metrics.url,
    )
    return OPERATOR_NAMESPACE


@pytest.fixture(scope="session")
def figures() -> dict[str, dict[str, Any]]:
    """Where tests record what they measured, by case: reported at the end of the run."""
    return _FIGURES


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report ends with what the operator logged last: a real node fails slowly and
    once, so the reason has to be in the first run's output."""
    report: pytest.TestReport = yield
    kubectl = getattr(item, "funcargs", {}).get("kubectl")
    if report.failed and call.when == "call" and kubectl is not None:
        selector = "app.kubernetes.io/name=modelops"
        logs = kubectl("logs", "-n", OPERATOR_NAMESPACE, "-l", selector, "--tail", str(OPERATOR_LOG_LINES), check=False)
        report.sections.append(("operator log (last lines)", logs.stdout + logs.stderr))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # setup + call + teardown: a module's fixtures (a model trained and served) count for its first test
    _DURATIONS[report.nodeid] = _DURATIONS.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _DURATIONS:
        return
    terminalreporter.section("e2e durations")
    for nodeid, seconds in _DURATIONS.items():
        terminalreporter.write_line(f"{seconds:8.1f} s  {nodeid}")
    terminalreporter.write_line(f"{sum(_DURATIONS.values()):8.1f} s  total (without the cluster's own start)")
    if _FIGURES:
        terminalreporter.section("e2e figures")
        for case, values in _FIGURES.items():
            terminalreporter.write_line(f"{case}: {json.dumps(values)}")
        if path := os.environ.get("MODELOPS_E2E_FIGURES"):
            Path(path).write_text(json.dumps(_FIGURES, indent=2) + "\n")
