"""The ``pvc://`` store on a real PersistentVolume: a second release of the chart stores the
Jobs' datasets and models on a hostPath volume mounted into the pods, and serves from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pandas as pd
import pytest

from modelops.artifacts.model_format import load_model
from modelops.testing.artifactstore import pvc_store
from modelops.testing.localcluster import LocalCluster
from modelops.testing.node import STATE_DIR
from modelops.testing.system import install_operator, wait_until_served
from modelops.testing.waiting import apply_objects, status_of

from .clients import post_json
from .iris import ROW, dataset, predict_url, training_run

pytestmark = pytest.mark.e2e

Kubectl = Callable[..., CompletedProcess[str]]
NAMESPACE = "pvc-store"
CLAIM = "modelops-store"
MOUNT = "/var/lib/modelops"


@pytest.fixture(scope="module")
def store(cluster: LocalCluster, kubectl: Kubectl, operator: str) -> Path:
    """The release for :data:`NAMESPACE` and the model it serves from its volume; the volume's host folder."""
    kubectl("create", "namespace", NAMESPACE)
    folder = pvc_store(cluster.control_plane, STATE_DIR / "volumes", NAMESPACE, CLAIM)
    install_operator(
        cluster,
        release="modelops-pvc",
        namespace="modelops-pvc-system",
        watchNamespaces="{" + NAMESPACE + "}",
        artifactStore__uri=f"pvc://{MOUNT}",
        artifactStore__pvcClaimName=CLAIM,
        artifactStore__s3__endpoint="",
        artifactStore__s3__credentialsSecret="",
    )
    deployment = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "iris-pvc"},
        "spec": {"model": {"trainingRunRef": {"name": "iris-tree"}}, "replicas": {"min": 1, "max": 1}},
    }
    tree = training_run("iris-tree", "decision_tree", {"max_depth": 3})
    apply_objects(kubectl, NAMESPACE, dataset(), tree, deployment)
    wait_until_served(cluster, NAMESPACE, "iris-pvc")
    return folder


def model_uri(kubectl: Kubectl) -> str:
    return str(status_of(kubectl, NAMESPACE, "tr", "iris-tree")["model"]["uri"])


def on_host(uri: str, folder: Path) -> Path:
    """Where a ``pvc://`` URI of the pods lies on the node: the volume's host folder."""
    return folder / uri.removeprefix(f"pvc://{MOUNT}/")


def test_the_prepare_and_train_jobs_wrote_to_the_persistent_volume(kubectl: Kubectl, store: Path) -> None:
    dataset: dict[str, Any] = status_of(kubectl, NAMESPACE, "datasets", "iris")

    assert dataset["artifact"].startswith(f"pvc://{MOUNT}/{NAMESPACE}/datasets/iris/")  # per-namespace layout
    assert any(on_host(dataset["artifact"], store).iterdir())
    assert (on_host(model_uri(kubectl), store) / "metadata.json").is_file()


def test_the_model_served_from_the_volume_predicts_what_the_pipeline_on_it_does(
    cluster: LocalCluster, kubectl: Kubectl, store: Path
) -> None:
    served = status_of(kubectl, NAMESPACE, "md", "iris-pvc")

    answer = post_json(kubectl, NAMESPACE, cluster.image, "client-pvc", predict_url(served), {"instances": [ROW]})

    model = load_model(f"file://{on_host(model_uri(kubectl), store)}")
    columns = [feature.name for feature in model.metadata.features]
    expected = model.pipeline.predict(pd.DataFrame([ROW], columns=columns)).tolist()
    assert answer["predictions"] == expected
    assert answer["model_version"] == served["model"]["version"]
