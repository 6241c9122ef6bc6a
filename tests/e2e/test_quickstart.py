"""The quick start on a real node: the README's three manifests, applied as a user would.

The prepare and train Jobs run as containers of the project's image, the ModelDeployment's
pods become Ready on their probes, and a client pod calling ``status.endpoint`` by its DNS
name gets what the fitted pipeline predicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

import pandas as pd
import pytest

from modelops.artifacts.model_format import load_model
from modelops.operator.naming import JobRun, prepare_job_name, train_job_name
from modelops.testing.localcluster import LocalCluster
from modelops.testing.system import apply_quickstart, wait_until_served
from modelops.trainer.sources import load_builtin

from .clients import post_json

pytestmark = pytest.mark.e2e

Kubectl = Callable[..., CompletedProcess[str]]
MODEL = "breast-cancer"
RUN = "breast-cancer-rf"


@pytest.fixture(scope="module")
def quickstart(cluster: LocalCluster, kubectl: Kubectl, operator: str) -> str:
    """The quick start applied in its own namespace and served; the namespace."""
    namespace = "quickstart"
    apply_quickstart(cluster, namespace)
    wait_until_served(cluster, namespace, MODEL)
    return namespace


def job_pods(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-l", "job-name", "-o", "json").stdout)["items"]
    return [p for p in pods if p["status"].get("phase") == "Succeeded"]


def test_the_prepare_and_train_jobs_ran_as_containers_of_the_image(
    cluster: LocalCluster, kubectl: Kubectl, quickstart: str
) -> None:
    pods = job_pods(kubectl, quickstart)

    jobs = {p["metadata"]["labels"]["job-name"] for p in pods}
    assert {prepare_job_name(MODEL, JobRun(1, 0)), train_job_name(RUN, 1)} <= jobs
    for item in pods:
        (status,) = item["status"]["containerStatuses"]
        assert status["containerID"].startswith("containerd://")
        assert status["image"] == cluster.image
        assert status["state"]["terminated"]["exitCode"] == 0


def test_job_containers_are_non_root_with_a_read_only_root_filesystem_and_the_charts_resources(
    kubectl: Kubectl, quickstart: str
) -> None:
    for item in job_pods(kubectl, quickstart):
        (container,) = item["spec"]["containers"]
        assert item["spec"]["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}


def test_a_client_pod_gets_from_the_endpoint_what_the_fitted_pipeline_predicts(
    cluster: LocalCluster, kubectl: Kubectl, quickstart: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = load_builtin("breast_cancer").drop(columns="target").sample(25, random_state=7)
    endpoint = json.loads(kubectl("get", "md", MODEL, "-n", quickstart, "-o", "json").stdout)["status"]["endpoint"]
    body = {
        "inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.to_numpy().tolist()}]
    }

    answer = post_json(kubectl, quickstart, cluster.image, "client-quickstart", f"{endpoint}/infer", body)

    for key, value in {**cluster.s3.credentials, "AWS_ENDPOINT_URL": cluster.s3.endpoint}.items():
        monkeypatch.setenv(key, value)
    run = json.loads(kubectl("get", "tr", RUN, "-n", quickstart, "-o", "json").stdout)
    expected = load_model(run["status"]["model"]["uri"]).pipeline.predict(pd.DataFrame(rows)).tolist()
    assert answer["outputs"][0]["data"] == expected
