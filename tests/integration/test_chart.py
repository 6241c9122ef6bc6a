"""The Helm chart renders least-privilege RBAC and its output is accepted by the real API server."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from modelops.contract.jobs import SourceLimits
from modelops.operator.settings import OperatorSettings
from modelops.testing import ControlPlane
from modelops.testing.chart import operator_environment, render_chart

pytestmark = pytest.mark.integration


def helm_template(control_plane: ControlPlane, namespace: str, values: dict[str, str] | None = None) -> list[Any]:
    return render_chart(control_plane.bin_dir / "helm", "modelops", namespace, values)


def test_rbac_has_no_wildcards(control_plane: ControlPlane, namespace: str) -> None:
    roles = [d for d in helm_template(control_plane, namespace) if d["kind"] in ("ClusterRole", "Role")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for field in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule.get(field, []), (role["metadata"]["name"], rule)


def test_operator_runs_as_non_root_with_a_read_only_root(control_plane: ControlPlane, namespace: str) -> None:
    (deployment,) = [d for d in helm_template(control_plane, namespace) if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_namespaced_install_binds_only_the_watched_namespaces(control_plane: ControlPlane, namespace: str) -> None:
    docs = helm_template(control_plane, namespace, {"watchNamespaces": f"{{{namespace}}}"})
    bindings = [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert [(b["kind"], b["metadata"].get("namespace")) for b in bindings] == [("RoleBinding", namespace)]


def test_every_operator_variable_in_the_chart_is_an_operator_setting(
    control_plane: ControlPlane, namespace: str
) -> None:
    values = {"artifactStore.pvcClaimName": "store", "artifactStore.s3.endpoint": "http://s3", "operator.env.X": "1"}
    variables = set(operator_environment(helm_template(control_plane, namespace, values)))
    settings = {f"MODELOPS_{name.upper()}" for name in OperatorSettings.model_fields} | set(SourceLimits().env())
    assert {v for v in variables if v.startswith("MODELOPS_")} <= settings
    assert {"MODELOPS_STORE_PVC_CLAIM", "MODELOPS_STORE_S3_ENDPOINT", "MODELOPS_LIVENESS_ENDPOINT"} <= variables


def test_rendered_chart_is_accepted_by_server_side_apply(control_plane: ControlPlane, namespace: str) -> None:
    docs = render_chart(
        control_plane.bin_dir / "helm", "modelops", namespace, {"watchNamespaces": f"{{{namespace}}}"}, "--include-crds"
    )
    control_plane.kubectl(
        "apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(docs)
    )
    control_plane.kubectl("get", "serviceaccount", "modelops-operator", "-n", namespace)
    operator = f"--as=system:serviceaccount:{namespace}:modelops-operator"
    status = control_plane.kubectl(
        "auth", "can-i", "patch", "modeldeployments.modelops.io", "--subresource=status", "-n", namespace, operator,
        check=False,
    )  # fmt: skip
    assert status.stdout.strip() == "yes"
    spec = control_plane.kubectl(
        "auth", "can-i", "patch", "modeldeployments.modelops.io", "-n", namespace, operator, check=False
    )
    assert spec.stdout.strip() == "no"  # the operator writes only the status of its kinds
    cannot = control_plane.kubectl(
        "auth", "can-i", "get", "secrets", "-n", namespace,
        f"--as=system:serviceaccount:{namespace}:modelops-operator", check=False,
    )  # fmt: skip
    assert cannot.stdout.strip() == "no"
