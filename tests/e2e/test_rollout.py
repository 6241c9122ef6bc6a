"""A second model from a ``fromLatest`` selector, rolled out under continuous load.

A newer TrainingRun carrying the selector's labels replaces the served model by a rolling
update; a client pod sends requests through the Service the whole time and none fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

import pytest

from modelops.testing.localcluster import LocalCluster
from modelops.testing.waiting import apply_objects, status_of, wait_for

from .clients import pod, run_pod
from .iris import ROW, predict_url, serve_iris, training_run

pytestmark = pytest.mark.e2e

Kubectl = Callable[..., CompletedProcess[str]]
NAMESPACE = "rollout"
MODEL = "iris-latest"

# Requests through the Service until a new model version has answered for `after` seconds;
# bounded by `limit` requests and `deadline` seconds. Prints one JSON summary.
LOAD = """
import json, sys, time, urllib.request
url, body, after, limit, deadline = sys.argv[1], sys.argv[2].encode(), 10.0, 8000, 720.0
first, versions, failures, sent, switched = None, {}, [], 0, None
started = time.monotonic()
while sent < limit and time.monotonic() - started < deadline:
    sent += 1
    try:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            version = json.loads(answer.read())["model_version"]
    except Exception as error:
        failures.append(repr(error)[:200])
        continue
    versions[version] = versions.get(version, 0) + 1
    first = first or version
    if version != first and switched is None:
        switched = time.monotonic()
    if switched is not None and time.monotonic() - switched > after:
        break
    time.sleep(0.1)  # ~10 requests a second: continuous, and light on two shared cores
print(json.dumps({"sent": sent, "failures": failures, "versions": versions, "first": first,
                  "seconds": round(time.monotonic() - started, 1)}))
"""


@pytest.fixture(scope="module")
def first_model(cluster: LocalCluster, kubectl: Kubectl, operator: str) -> dict[str, Any]:
    return serve_iris(cluster, kubectl, NAMESPACE, MODEL)


def test_a_newer_run_rolls_out_while_every_request_through_the_service_succeeds(
    cluster: LocalCluster, kubectl: Kubectl, first_model: dict[str, Any]
) -> None:
    # the Service's simple JSON route: the load is about availability, whatever the model is called
    body = json.dumps({"instances": [ROW]})
    load = pod("load", cluster.image, ["python", "-c", LOAD, predict_url(first_model), body])
    kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(load))
    wait_for("the load to run", lambda: status_of(kubectl, NAMESPACE, "pod", "load").get("phase") == "Running")

    apply_objects(kubectl, NAMESPACE, training_run("iris-forest", "random_forest", {"n_estimators": 20}))
    summary = json.loads(run_pod(kubectl, NAMESPACE, load, timeout=900))

    assert summary["failures"] == []
    assert len(summary["versions"]) == 2, summary  # the old model answered, then the new one
    served = status_of(kubectl, NAMESPACE, "md", MODEL)
    assert served["model"]["version"] != first_model["model"]["version"]
