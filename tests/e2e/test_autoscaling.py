"""Autoscaling on the real node, for every ``autoscaling.metric`` a ModelDeployment offers.

Each case serves the same iris model with ``replicas`` 1..3 and an HPA on its metric, fed by the
cluster's metrics pipeline: Prometheus scraping the pods as the chart's PodMonitor says, the
chart's prometheus-adapter rules behind ``custom.metrics.k8s.io``, metrics-server behind
``metrics.k8s.io`` for CPU. A bounded load through the Service (from inside the node's network
namespace) makes the HPA scale up within :data:`SCALE_UP_WITHIN` seconds; the new pods become
Ready and serve predictions; once the load drops to a trickle the HPA scales back to
``replicas.min`` within :data:`SCALE_DOWN_WITHIN` seconds. No request fails on the way up or down.

Each case records seconds to the first scale-up, peak replicas, seconds back to min and failed
requests in the session's figures (printed at the end of the run).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from subprocess import CompletedProcess
from typing import Any

import pytest

from modelops.contract.metrics import MODEL_DEPLOYMENT_LABEL, REQUESTS_TOTAL
from modelops.operator.naming import bounded, owner_label, serving_name
from modelops.testing.localcluster import LocalCluster
from modelops.testing.waiting import apply_objects, get_object, has_phase, wait_for

from .iris import ROW, dataset, training_run
from .load import ServiceLoad, service_url

pytestmark = pytest.mark.e2e

Kubectl = Callable[..., CompletedProcess[str]]
NAMESPACE = "autoscaling"
MIN, MAX = 1, 3
SCALE_UP_WITHIN = 150.0
SCALE_DOWN_WITHIN = 240.0
# After the first scale-up the load holds at least this long, so the HPA can go on to its peak.
HOLD = 20.0
# before and after the load: about one request a second, so request rates and latency have a value
TRICKLE: dict[str, Any] = {"workers": 1, "pause": 1.0, "body": {"instances": [ROW]}}


@dataclass(frozen=True)
class Case:
    """One autoscaling metric, its per-pod target, and a load that takes it well over that target."""

    metric: str
    target: float
    workers: int
    pause: float
    rows: int
    cpu_limit: str | None = None

    @property
    def name(self) -> str:
        return f"scale-{self.metric.lower()}"

    def body(self) -> dict[str, Any]:
        return {"instances": [ROW] * self.rows}


CASES = [
    # ~15 requests/s against 2 per pod
    Case("requestsPerSecond", 2, workers=2, pause=0.1, rows=1),
    # four requests of 200 rows always in flight against 1 per pod
    Case("inflight", 1, workers=4, pause=0.0, rows=200),
    # requests of 1,000 rows, back to back from two clients, against a p95 of 50 ms; the CPU limit
    # makes them slow on any machine (throttled once its quota is spent), one row a second not
    Case("latencyP95", 0.05, workers=2, pause=0.0, rows=1000, cpu_limit="200m"),
    # ~15 requests/s of 20 rows against 50% of the pod's 100m CPU request
    Case("cpu", 50, workers=2, pause=0.05, rows=20),
]


@pytest.fixture(scope="module")
def trained(kubectl: Kubectl, operator: str) -> str:
    """The iris run every case serves."""
    apply_objects(kubectl, NAMESPACE, dataset(), training_run("iris-tree", "decision_tree", {"max_depth": 2}))
    wait_for("iris-tree Succeeded", has_phase(kubectl, NAMESPACE, "tr", "iris-tree", "Succeeded"), timeout=600)
    return "iris-tree"


def model_deployment(case: Case, run: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": case.name},
        "spec": {
            "model": {"trainingRunRef": {"name": run}},
            "replicas": {"min": MIN, "max": MAX},
            "autoscaling": {"metric": case.metric, "target": case.target},
            "resources": {
                "requests": {"cpu": "100m", "memory": "200Mi"},
                "limits": {"memory": "512Mi", **({"cpu": case.cpu_limit} if case.cpu_limit else {})},
            },
        },
    }


def hpa_status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    return (get_object(kubectl, NAMESPACE, "hpa", serving_name(name)) or {}).get("status") or {}


def measuring(kubectl: Kubectl, name: str) -> bool:
    """The HPA reads a current value of its metric (the pipeline serves it for these pods)."""
    status = hpa_status(kubectl, name)
    active = any(c["type"] == "ScalingActive" and c["status"] == "True" for c in status.get("conditions", []))
    return active and bool(status.get("currentMetrics"))


def ready_pods(kubectl: Kubectl, name: str) -> set[str]:
    selector = f"{owner_label('ModelDeployment')}={bounded(name)}"
    pods = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-l", selector, "-o", "json").stdout)["items"]
    return {
        pod["metadata"]["name"]
        for pod in pods
        if pod["metadata"].get("deletionTimestamp") is None
        and any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
    }


def replicas(kubectl: Kubectl, name: str) -> tuple[int, int]:
    """(replicas the Deployment asks for, pods it has, terminating ones included)."""
    deployment = get_object(kubectl, NAMESPACE, "deployment", serving_name(name)) or {}
    return int(deployment.get("spec", {}).get("replicas", 0)), int(deployment.get("status", {}).get("replicas", 0))


def served_predictions(cluster: LocalCluster, name: str) -> dict[str, float]:
    """Predictions each pod answered, as Prometheus scraped them."""
    matchers = f'namespace="{NAMESPACE}",{MODEL_DEPLOYMENT_LABEL}="{bounded(name)}",route="/predict"'
    series = cluster.metrics.query(f"sum by (pod) ({REQUESTS_TOTAL}{{{matchers}}})")
    return {item["metric"]["pod"]: float(item["value"][1]) for item in series}


@pytest.fixture(params=CASES, ids=[case.metric for case in CASES])
def case(kubectl: Kubectl, trained: str, request: pytest.FixtureRequest) -> Iterator[Case]:
    """The case's ModelDeployment, Ready; deleted afterwards, so no case runs beside another's pods."""
    case: Case = request.param
    apply_objects(kubectl, NAMESPACE, model_deployment(case, trained))
    wait_for(f"{case.name} Ready", has_phase(kubectl, NAMESPACE, "md", case.name, "Ready"), timeout=300)
    yield case
    kubectl("delete", "md", case.name, "-n", NAMESPACE, "--wait=true")


def test_the_hpa_scales_up_under_load_and_back_to_min_without_a_failed_request(
    cluster: LocalCluster, kubectl: Kubectl, figures: dict[str, dict[str, Any]], case: Case
) -> None:
    before = ready_pods(kubectl, case.name)
    peak = MIN

    def scaled(at_least: int) -> bool:
        nonlocal peak
        wanted, _ = replicas(kubectl, case.name)
        peak = max(peak, wanted)
        return wanted >= at_least

    with ServiceLoad(cluster.network, service_url(kubectl, NAMESPACE, case.name)) as load:
        # a trickle first: with no request at all, a rate or a latency quantile has no value
        load.phase("before", **TRICKLE)
        wait_for(f"the HPA of {case.name} to read {case.metric}", lambda: measuring(kubectl, case.name), timeout=120)
        assert replicas(kubectl, case.name) == (MIN, MIN)  # the trickle alone is under the target
        started = time.monotonic()
        load.phase("high", workers=case.workers, pause=case.pause, body=case.body())
        wait_for(f"{case.name} to scale up", lambda: scaled(MIN + 1), timeout=SCALE_UP_WITHIN, interval=1.0)
        scale_up = time.monotonic() - started

        def new_pods_serve() -> bool:
            pods, wanted = ready_pods(kubectl, case.name), replicas(kubectl, case.name)[0]
            served = {pod for pod, count in served_predictions(cluster, case.name).items() if count > 0}
            held = time.monotonic() - started - scale_up >= HOLD
            return scaled(MIN + 1) and held and len(pods) == wanted and pods - before <= served and pods <= served

        wait_for(f"the new pods of {case.name} Ready and serving", new_pods_serve, timeout=120, interval=2.0)
        load.phase("after", **TRICKLE)
        low = time.monotonic()
        wait_for(
            f"{case.name} back to {MIN}",
            lambda: replicas(kubectl, case.name) == (MIN, MIN),
            timeout=SCALE_DOWN_WITHIN,
            interval=1.0,
        )
        scale_down = time.monotonic() - low
        phases = load.stop()

    failed = {name: phase["failed"] for name, phase in phases.items()}
    figures[f"autoscaling/{case.metric}"] = {
        "target": case.target,
        "scale_up_s": round(scale_up, 1),
        "peak_replicas": peak,
        "back_to_min_s": round(scale_down, 1),
        "requests": sum(phase["sent"] for phase in phases.values()),
        "failed": sum(failed.values()),
    }
    assert failed == {"before": 0, "high": 0, "after": 0}, phases
    assert peak > MIN
