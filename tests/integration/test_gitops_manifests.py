"""What the chart and examples/gitops hand to other projects' controllers is accepted by their real CRDs
(KEDA, Prometheus Operator, Argo CD, Flux, from their Go modules) on a real API server, with nothing
pruned; and the roles aggregated into Kubernetes' admin/edit/view give people what they should."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.api.objects import ModelDeployment
from modelops.operator.builders.keda import scaled_object
from modelops.testing import ControlPlane
from modelops.testing.chart import render_chart
from modelops.testing.waiting import apply_objects, get_object, wait_for
from tests.gitops_expectations import HEALTH_SCRIPT

pytestmark = pytest.mark.integration
Kubectl = Callable[..., Any]
REPO = Path(__file__).resolve().parents[2]
GITOPS = REPO / "examples" / "gitops"
KINDS = ("Dataset", "TrainingRun", "ModelDeployment")
EVERYTHING_ON = {
    "prometheus.podMonitor.enabled": "true",
    "prometheus.serviceMonitor.enabled": "true",
    "prometheus.rules.enabled": "true",
    "prometheus.adapterRules.enabled": "true",
    "prometheus.release": "kube-prometheus-stack",
    "grafana.dashboard.enabled": "true",
    "argocd.healthChecks.enabled": "true",
}


def chart(control_plane: ControlPlane, namespace: str, values: dict[str, str]) -> list[dict[str, Any]]:
    return render_chart(control_plane.bin_dir / "helm", namespace, namespace, values)


def stored_spec(kubectl: Kubectl, namespace: str, obj: dict[str, Any]) -> Any:
    kind = f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}"
    stored = get_object(kubectl, namespace, kind, obj["metadata"]["name"])
    assert stored is not None
    return stored["spec"]


def test_monitoring_objects_are_accepted_by_the_prometheus_operator_crds_unpruned(
    control_plane: ControlPlane, kubectl: Kubectl, namespace: str, third_party_crds: list[str]
) -> None:
    docs = chart(control_plane, namespace, EVERYTHING_ON)
    monitoring = [d for d in docs if d["apiVersion"] == "monitoring.coreos.com/v1"]
    assert sorted(d["kind"] for d in monitoring) == ["PodMonitor", "PrometheusRule", "ServiceMonitor"]
    apply_objects(kubectl, namespace, *monitoring)
    for obj in monitoring:
        assert stored_spec(kubectl, namespace, obj) == obj["spec"], obj["kind"]
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_only_the_aggregated_roles_are_on_by_default(control_plane: ControlPlane, namespace: str) -> None:
    default = {(d["kind"], d["metadata"]["name"]) for d in chart(control_plane, namespace, {})}
    everything = {(d["kind"], d["metadata"]["name"]) for d in chart(control_plane, namespace, EVERYTHING_ON)}
    assert {("ClusterRole", f"{namespace}-edit"), ("ClusterRole", f"{namespace}-view")} <= default
    assert sorted(everything - default) == [
        ("ConfigMap", f"{namespace}-adapter-rules"),
        ("ConfigMap", f"{namespace}-argocd-health"),
        ("ConfigMap", f"{namespace}-dashboard"),
        ("PodMonitor", f"{namespace}-serving"),
        ("PrometheusRule", f"{namespace}-alerts"),
        ("ServiceMonitor", f"{namespace}-operator"),
    ]


def test_the_operator_service_monitor_selects_the_metrics_service(control_plane: ControlPlane, namespace: str) -> None:
    docs = chart(control_plane, namespace, EVERYTHING_ON)
    (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    (service,) = [d for d in docs if d["kind"] == "Service"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [p["name"] for p in service["spec"]["ports"]]


def test_the_dashboard_and_adapter_rules_ship_as_configmaps_for_their_sidecar_and_adapter(
    control_plane: ControlPlane, namespace: str
) -> None:
    docs = {
        d["metadata"]["name"]: d for d in chart(control_plane, namespace, EVERYTHING_ON) if d["kind"] == "ConfigMap"
    }
    board = docs[f"{namespace}-dashboard"]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["modelops.json"])["uid"] == "modelops"
    rules = yaml.safe_load(docs[f"{namespace}-adapter-rules"]["data"]["config.yaml"])["rules"]
    assert {r["name"]["as"] for r in rules} == {
        "modelops_requests_per_second",
        "modelops_request_duration_seconds_p95",
        "modelops_requests_in_flight",
    }


def test_the_argocd_snippet_merges_into_argocd_cm_one_health_check_per_kind(
    control_plane: ControlPlane, kubectl: Kubectl, namespace: str
) -> None:
    docs = chart(control_plane, namespace, {"argocd.healthChecks.enabled": "true"})
    (snippet,) = [d for d in docs if d["metadata"]["name"] == f"{namespace}-argocd-health"]
    script = HEALTH_SCRIPT.read_text()
    assert snippet["data"] == {f"resource.customizations.health.modelops.io_{kind}": script for kind in KINDS}
    # Merged as the README says, into an argocd-cm holding other settings already.
    argocd_cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}, "data": {"url": "x"}}
    apply_objects(kubectl, namespace, snippet, argocd_cm)
    data = kubectl("get", "configmap", snippet["metadata"]["name"], "-n", namespace, "-o", "jsonpath={.data}").stdout
    kubectl("patch", "configmap", "argocd-cm", "-n", namespace, "--type", "merge", "-p", f'{{"data": {data}}}')
    merged = get_object(kubectl, namespace, "configmap", "argocd-cm")
    assert merged is not None and merged["data"] == {"url": "x", **snippet["data"]}


def test_a_keda_scaled_object_is_accepted_by_kedas_crd_unpruned(
    kubectl: Kubectl, namespace: str, third_party_crds: list[str]
) -> None:
    md = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "iris"},
        "spec": {
            "model": {"uri": f"file:///store/{namespace}/models/iris/0123456789abcdef"},
            "replicas": {"min": 1, "max": 4},
        },
    }
    apply_objects(kubectl, namespace, md)
    owner = get_object(kubectl, namespace, "modeldeployment", "iris")
    assert owner is not None
    for metric in ("requestsPerSecond", "latencyP95", "inflight"):
        obj = scaled_object(
            name="iris", namespace=namespace, owner_reference=ModelDeployment.model_validate(owner).owner_reference(),
            labels={"app.kubernetes.io/managed-by": "modelops"}, min_replicas=1, max_replicas=4,
            metric=metric, target=0.25, server_address="http://prometheus-operated.monitoring:9090",
        )  # fmt: skip
        kubectl("apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", "-", input=json.dumps(obj))
        assert stored_spec(kubectl, namespace, obj) == obj["spec"], metric
    stored = get_object(kubectl, namespace, "scaledobject.keda.sh", "iris")
    assert stored is not None and stored["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]


def test_gitops_examples_are_accepted_and_sync_the_quick_start(
    kubectl: Kubectl, namespace: str, third_party_crds: list[str]
) -> None:
    docs = [d for path in sorted(GITOPS.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d]
    # Server-side dry run in the test's namespace: Argo CD's and Flux's own namespaces need not exist.
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(docs))

    quickstart = [yaml.safe_load(p.read_text()) for p in sorted((REPO / "examples/quickstart").glob("*.yaml"))]
    ours = sorted((d["kind"], d["metadata"]["name"]) for d in quickstart)
    (application,) = [d for d in docs if d["kind"] == "Application"]
    assert (REPO / application["spec"]["source"]["path"]).is_dir()
    assert application["spec"]["source"]["path"] == "examples/quickstart"
    kustomizations = [d for d in docs if d["kind"] == "Kustomization"]
    assert {k["spec"]["path"] for k in kustomizations} == {"./examples/quickstart"}
    (waiting,) = [k["spec"] for k in kustomizations if k["spec"].get("wait")]
    assert "healthChecks" not in waiting  # Flux ignores them under wait: true
    (gated,) = [k["spec"] for k in kustomizations if "healthChecks" in k["spec"]]
    assert sorted((c["kind"], c["name"]) for c in gated["healthChecks"]) == ours


def test_namespace_edit_and_view_users_get_the_rights_the_aggregated_roles_give(
    control_plane: ControlPlane, kubectl: Kubectl, namespace: str
) -> None:
    roles = [d for d in chart(control_plane, namespace, {}) if d["kind"] == "ClusterRole" and "aggregate" in str(d)]
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(roles))
    kubectl("create", "rolebinding", "alice-edits", "--clusterrole=edit", "--user=alice", "-n", namespace)
    kubectl("create", "rolebinding", "bob-views", "--clusterrole=view", "--user=bob", "-n", namespace)

    def can(user: str, verb: str, resource: str, *more: str) -> bool:
        args = ("auth", "can-i", verb, f"{resource}.modelops.io", "-n", namespace, f"--as={user}", *more)
        answer: str = kubectl(*args, check=False).stdout
        return answer.strip() == "yes"

    # The controller-manager aggregates the rules into edit and view within moments.
    wait_for(
        "aggregation into edit and view",
        lambda: can("alice", "create", "modeldeployments") and can("bob", "get", "datasets"),
    )
    try:
        for resource in ("datasets", "trainingruns", "modeldeployments"):
            for verb in ("get", "list", "watch", "create", "update", "patch", "delete"):
                assert can("alice", verb, resource), f"edit cannot {verb} {resource}"
            for verb in ("get", "list", "watch"):
                assert can("bob", verb, resource), f"view cannot {verb} {resource}"
            for verb in ("create", "update", "patch", "delete"):
                assert not can("bob", verb, resource), f"view can {verb} {resource}"
            # Status is the operator's to write.
            assert not can("alice", "patch", resource, "--subresource=status")
        md = {
            "apiVersion": "modelops.io/v1alpha1",
            "kind": "ModelDeployment",
            "metadata": {"name": "alices"},
            "spec": {"model": {"uri": f"file:///store/{namespace}/models/m/0123456789abcdef"}},
        }
        kubectl("apply", "-n", namespace, "--as=alice", "-f", "-", input=json.dumps(md))
        denied = kubectl("delete", "modeldeployment", "alices", "-n", namespace, "--as=bob", check=False)
        assert denied.returncode != 0 and "forbidden" in denied.stderr
        assert kubectl("get", "modeldeployment", "alices", "-n", namespace, "--as=bob").returncode == 0
    finally:
        kubectl("delete", "clusterrole", "-l", f"app.kubernetes.io/instance={namespace}", check=False)
