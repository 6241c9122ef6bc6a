"""Faults on the real node: a serving container killed, the operator pod killed mid-reconcile, a
tampered model rolled out (its pods refuse it while the previous ones keep serving)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

import pytest

from modelops.testing.localcluster import LocalCluster
from modelops.testing.system import OPERATOR_NAMESPACE
from modelops.testing.waiting import apply_objects, get_object, has_phase, status_of, wait_for
from tests.gitops_expectations import observe

from .clients import pod, run_pod
from .iris import ROW, predict_url, rollout_settled, serve_iris, serving_pods, training_run
from .load import ServiceLoad, service_url

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


def tampered_copy(cluster: LocalCluster, uri: str) -> str:
    """A copy of model version ``uri`` under another model name in the store, its model.skops altered.

    Its metadata.json names the copy, as someone with write access to the store would make it: the
    server then gets past the name check to the files' recorded sha256.
    """
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    namespace, _, name, version = prefix.split("/")
    copy = f"{namespace}/models/{name}-tampered/{version}"
    s3 = cluster.s3.client()
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"]:
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        if item["Key"].endswith("/model.skops"):
            body = body[:-1] + bytes([body[-1] ^ 0xFF])  # one bit pattern off: its sha256 no longer matches
        elif item["Key"].endswith("/metadata.json"):
            body = json.dumps({**json.loads(body), "name": f"{name}-tampered"}).encode()
        s3.put_object(Bucket=bucket, Key=f"{copy}/{item['Key'].removeprefix(prefix + '/')}", Body=body)
    return f"s3://{bucket}/{copy}"


def test_a_tampered_model_degrades_the_model_deployment_with_the_servers_words_while_the_old_pods_serve(
    cluster: LocalCluster, kubectl: Kubectl, served: dict[str, Any]
) -> None:
    wait_for(f"{MODEL} Ready", has_phase(kubectl, NAMESPACE, "md", MODEL, "Ready"), timeout=300)
    # the run of the test before rolled out a newer model: its old pods must be gone before the load
    wait_for("the last rollout's old pods gone", lambda: rollout_settled(kubectl, NAMESPACE), timeout=120)
    before = status_of(kubectl, NAMESPACE, "md", MODEL)["model"]
    tampered = tampered_copy(cluster, before["uri"])

    with ServiceLoad(cluster.network, service_url(kubectl, NAMESPACE, MODEL)) as load:
        load.phase("during", workers=1, pause=0.1, body={"instances": [ROW]})
        patch = {"spec": {"model": {"fromLatest": None, "uri": tampered}}}
        kubectl("patch", "md", MODEL, "-n", NAMESPACE, "--type=merge", "-p", json.dumps(patch))

        def degraded_now() -> dict[str, Any] | None:
            obj = get_object(kubectl, NAMESPACE, "md", MODEL)
            return obj if obj and obj["status"]["phase"] == "Degraded" else None

        degraded = wait_for(f"{MODEL} Degraded", degraded_now, timeout=180)
        time.sleep(5)  # the old pods go on answering while the new one crash-loops
        (during,) = load.stop().values()

    ready = {c["type"]: c for c in degraded["status"]["conditions"]}
    assert ready["Stalled"]["status"] == "True"
    # the server's own words, from its termination message
    assert (
        "model.skops" in ready["Stalled"]["message"]
        and "does not match its recorded sha256" in (ready["Stalled"]["message"])
    ), ready["Stalled"]
    assert during["failed"] == 0, during
    assert set(during["versions"]) == {before["version"]}  # every answer came from the previous pods
    deployment = get_object(kubectl, NAMESPACE, "deployment", MODEL) or {}
    assert deployment["status"]["readyReplicas"] == 2
    observe(NAMESPACE, "ModelDeployment", "Degraded", degraded)  # what kstatus and Argo CD make of it
