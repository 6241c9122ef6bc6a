"""Faults on the real node: a serving container killed, the operator pod killed mid-reconcile."""

from __future__ import annotations

import json
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

import pytest

from modelops.testing.localcluster import LocalCluster
from modelops.testing.system import OPERATOR_NAMESPACE
from modelops.testing.waiting import apply_objects, has_phase, wait_for

from .clients import pod, run_pod
from .iris import ROW, predict_url, serve_iris, serving_pods, training_run

pytestmark = pytest.mark.e2e

Kubectl = Callable[..., CompletedProcess[str]]
NAMESPACE = "faults"
MODEL = "iris-faults"

# `count` requests through the Service, one every 0.1 s; prints how many failed and why
REQUESTS = """
import json, sys, time, urllib.request
url, body, failures = sys.argv[1], sys.argv[2].encode(), []
for _ in range(int(sys.argv[3])):
    try:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).read()
    except Exception as error:
        failures.append(repr(error)[:200])
    time.sleep(0.1)
print(json.dumps(failures))
"""


@pytest.fixture(scope="module")
def served(cluster: LocalCluster, kubectl: Kubectl, operator: str) -> dict[str, Any]:
    return serve_iris(cluster, kubectl, NAMESPACE, MODEL)


def restarts(kubectl: Kubectl, pod_name: str) -> int:
    item = json.loads(kubectl("get", "pod", pod_name, "-n", NAMESPACE, "-o", "json").stdout)
    return int(item["status"]["containerStatuses"][0]["restartCount"])


def ready(kubectl: Kubectl, pod_name: str) -> bool:
    item = json.loads(kubectl("get", "pod", pod_name, "-n", NAMESPACE, "-o", "json").stdout)
    return any(c["type"] == "Ready" and c["status"] == "True" for c in item["status"]["conditions"])


def test_a_killed_serving_container_restarts_while_the_service_answers_from_the_other_replica(
    cluster: LocalCluster, kubectl: Kubectl, served: dict[str, Any]
) -> None:
    victim = serving_pods(kubectl, NAMESPACE)[0]
    name = victim["metadata"]["name"]
    container = victim["status"]["containerStatuses"][0]["containerID"].removeprefix("containerd://")

    cluster.node.ctr("tasks", "kill", "--signal", "SIGKILL", container)
    wait_for(f"{name} to restart", lambda: restarts(kubectl, name) >= 1, timeout=60)
    client = pod(
        "requests",
        cluster.image,
        ["python", "-c", REQUESTS, predict_url(served), json.dumps({"instances": [ROW]}), "30"],
    )
    failures = json.loads(run_pod(kubectl, NAMESPACE, client))

    assert failures == []
    wait_for(f"{name} Ready again", lambda: ready(kubectl, name), timeout=120)


def test_the_operator_pod_killed_mid_reconcile_duplicates_no_job_and_converges(
    kubectl: Kubectl, served: dict[str, Any]
) -> None:
    apply_objects(kubectl, NAMESPACE, training_run("iris-knn", "knn", {"n_neighbors": 3}))
    wait_for(
        "the train Job", lambda: kubectl("get", "jobs", "-n", NAMESPACE, "-o", "name").stdout.count("iris-knn") == 1
    )

    kubectl(
        "delete",
        "pod",
        "-n",
        OPERATOR_NAMESPACE,
        "-l",
        "app.kubernetes.io/name=modelops",
        "--grace-period=0",
        "--force",
    )
    wait_for("iris-knn Succeeded", has_phase(kubectl, NAMESPACE, "tr", "iris-knn", "Succeeded"), timeout=600)

    jobs = kubectl("get", "jobs", "-n", NAMESPACE, "-o", "name").stdout.split()
    assert [job for job in jobs if "iris-knn" in job] == ["job.batch/iris-knn-train-1"]
