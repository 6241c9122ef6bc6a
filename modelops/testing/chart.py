"""The Helm chart as a cluster receives it: `helm template` output, its RBAC and the operator's environment.

The integration tests run the operator with exactly the chart's ServiceAccount, rules and
``MODELOPS_*`` environment, so the chart cannot drift from what the operator needs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "modelops"
# where the local cluster installs the chart (its monitors and rules name this release)
RELEASE = "modelops"
OPERATOR_NAMESPACE = "modelops-system"
RBAC_KINDS = frozenset({"ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


def render_chart(
    helm: Path, release: str, namespace: str, values: Mapping[str, str] | None = None, *args: str
) -> list[dict[str, Any]]:
    """`helm template` of the chart with ``--set key=value`` for each of ``values``; one dict per document."""
    sets = [arg for key, value in (values or {}).items() for arg in ("--set", f"{key}={value}")]
    command = [str(helm), "template", release, str(CHART_DIR), "-n", namespace, *sets, *args]
    rendered = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def rbac_documents(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] in RBAC_KINDS]


def operator_deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [doc for doc in docs if doc["kind"] == "Deployment"]
    return deployment


def operator_environment(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The operator container's literal environment variables."""
    (container,) = operator_deployment(docs)["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def service_account_name(docs: list[dict[str, Any]]) -> str:
    return str(operator_deployment(docs)["spec"]["template"]["spec"]["serviceAccountName"])


def install_chart(
    helm: Path, kubeconfig: Path, release: str, namespace: str, values: Mapping[str, str], *args: str
) -> None:
    """`helm install` the chart (creating ``namespace``) with ``--set key=value`` for each of ``values``."""
    sets = [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]
    command = [str(helm), "install", release, str(CHART_DIR), "-n", namespace, "--create-namespace", *sets, *args]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"helm install {release} failed ({done.returncode}): {done.stderr.strip()}")
