"""The Helm chart renders least-privilege RBAC and its output is accepted by the real API server."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.testing import ControlPlane

pytestmark = pytest.mark.integration

CHART = Path(__file__).resolve().parents[2] / "charts" / "modelops"


def helm_template(control_plane: ControlPlane, namespace: str, *args: str) -> str:
    command = [str(control_plane.bin_dir / "helm"), "template", "modelops", str(CHART), "-n", namespace, *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _docs(rendered: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def test_rbac_has_no_wildcards(control_plane: ControlPlane, namespace: str) -> None:
    roles = [d for d in _docs(helm_template(control_plane, namespace)) if d["kind"] in ("ClusterRole", "Role")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for field in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule.get(field, []), (role["metadata"]["name"], rule)


def test_operator_runs_as_non_root_with_a_read_only_root(control_plane: ControlPlane, namespace: str) -> None:
    (deployment,) = [d for d in _docs(helm_template(control_plane, namespace)) if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_namespaced_install_binds_only_the_watched_namespaces(control_plane: ControlPlane, namespace: str) -> None:
    docs = _docs(helm_template(control_plane, namespace, "--set", f"watchNamespaces={{{namespace}}}"))
    bindings = [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert {(b["kind"], b["metadata"].get("namespace")) for b in bindings} == {
        ("RoleBinding", namespace),
        ("ClusterRoleBinding", None),  # the CRD reader only
    }
    (crd_binding,) = [b for b in bindings if b["kind"] == "ClusterRoleBinding"]
    assert crd_binding["roleRef"]["name"].endswith("-crd-reader")


def test_rendered_chart_is_accepted_by_server_side_apply(control_plane: ControlPlane, namespace: str) -> None:
    rendered = helm_template(control_plane, namespace, "--include-crds", "--set", f"watchNamespaces={{{namespace}}}")
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", "-", input=rendered)
    control_plane.kubectl("get", "serviceaccount", "modelops-operator", "-n", namespace)
    can_i = control_plane.kubectl(
        "auth", "can-i", "patch", "modeldeployments.modelops.io/status", "-n", namespace,
        f"--as=system:serviceaccount:{namespace}:modelops-operator", check=False,
    )  # fmt: skip
    assert can_i.stdout.strip() == "yes"
    cannot = control_plane.kubectl(
        "auth", "can-i", "get", "secrets", "-n", namespace,
        f"--as=system:serviceaccount:{namespace}:modelops-operator", check=False,
    )  # fmt: skip
    assert cannot.stdout.strip() == "no"
