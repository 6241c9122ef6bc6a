"""The system as a user runs it on the local cluster: the chart installed with the built image,
the quick start applied, a model served. Shared by `make up` and the e2e tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from modelops.testing.chart import OPERATOR_NAMESPACE, RELEASE, install_chart
from modelops.testing.localcluster import LocalCluster
from modelops.testing.waiting import status_of, wait_for

__all__ = [
    "OPERATOR_NAMESPACE",
    "QUICKSTART_DIR",
    "S3_SECRET",
    "apply_quickstart",
    "install_operator",
    "store_secret",
    "wait_until_served",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICKSTART_DIR = REPO_ROOT / "examples" / "quickstart"
S3_SECRET = "modelops-s3"


def install_operator(
    cluster: LocalCluster,
    *,
    release: str = RELEASE,
    namespace: str = OPERATOR_NAMESPACE,
    timeout: float = 300.0,
    **values: str,
) -> None:
    """`helm install` the chart with the built image; wait until the operator is Ready.

    The store is the cluster's S3 server unless ``values`` say otherwise; ``values`` override chart
    values (keys with ``__`` for ``.``, e.g. ``operator__logLevel="DEBUG"``).
    """
    repository, tag = cluster.image.rsplit("/", 1)[-1].split(":")
    settings = {
        "image.repository": repository,
        "image.tag": tag,
        "image.pullPolicy": "Never",  # imported into containerd, in no registry
        "artifactStore.uri": f"s3://{cluster.s3.bucket}",
        "artifactStore.s3.endpoint": cluster.s3.endpoint,
        "artifactStore.s3.credentialsSecret": S3_SECRET,
        **{key.replace("__", "."): value for key, value in values.items()},
    }
    cp = cluster.control_plane
    helm = cp.bin_dir / "helm"
    install_chart(helm, cp.kubeconfig, release, namespace, settings, "--wait", f"--timeout={timeout:.0f}s")


def store_secret(cluster: LocalCluster, namespace: str) -> None:
    """The S3 credentials Jobs and serving pods of ``namespace`` read (the chart names the Secret)."""
    secret = cluster.s3.secret(S3_SECRET, namespace)
    cluster.control_plane.kubectl("apply", "-f", "-", input=yaml.safe_dump(secret))


def apply_quickstart(cluster: LocalCluster, namespace: str) -> None:
    store_secret(cluster, namespace)
    cluster.control_plane.kubectl("apply", "-n", namespace, "-f", str(QUICKSTART_DIR))


def wait_until_served(cluster: LocalCluster, namespace: str, name: str, *, timeout: float = 900.0) -> dict[str, Any]:
    """Wait for ModelDeployment ``name`` to be Ready; its status. Fails fast when a step of the chain fails."""
    kubectl = cluster.control_plane.kubectl

    def failed() -> str | None:
        for kind in ("datasets", "trainingruns", "modeldeployments"):
            items = json.loads(kubectl("get", kind, "-n", namespace, "-o", "json").stdout)["items"]
            for item in items:
                if item.get("status", {}).get("phase") in ("Failed", "Rejected", "Stalled"):
                    return f"{kind}/{item['metadata']['name']} is {item['status']['phase']}: {item['status']}"
        return None

    wait_for(
        f"modeldeployment {namespace}/{name} Ready",
        lambda: status_of(kubectl, namespace, "modeldeployments", name).get("phase") == "Ready",
        timeout=timeout,
        interval=2.0,
        alive=failed,
    )
    return status_of(kubectl, namespace, "modeldeployments", name)
