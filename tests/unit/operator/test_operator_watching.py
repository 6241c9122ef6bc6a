"""Watch events: the cache keeps the newest version, a child's change wakes its owner, our own writes wake
only the objects waiting on them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelops.operator.cache import ObjectCache
from modelops.operator.handlers.context import Context, contains
from modelops.operator.handlers.controller import Controller
from modelops.operator.kube import Kube
from modelops.operator.settings import OperatorSettings
from modelops.operator.views import DeploymentView

from .operator_objects import MODEL_URI


def deployment(version: str, *, image: str = "img:1", owner: str = "iris") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": owner,
            "namespace": "ns",
            "resourceVersion": version,
            "managedFields": [{"manager": "modelops", "fieldsV1": {"f:spec": {}}}],
            "ownerReferences": [{"kind": "ModelDeployment", "name": owner, "controller": True}],
        },
        "spec": {"template": {"spec": {"containers": [{"name": "server", "image": image}]}}},
        "status": {"replicas": 1},
    }


def model_deployment(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "iris", "namespace": "ns", "uid": "u", "resourceVersion": version},
        "spec": {"model": {"uri": MODEL_URI}},
    }


@pytest.fixture
def controller(settings: OperatorSettings) -> Controller:
    # No API client at all: a watch handler that called the API server would fail the test.
    return Controller(Context(settings=settings, kube=Kube(api_client=None)))


def test_the_cache_keeps_the_newest_version_and_drops_managed_fields() -> None:
    cache = ObjectCache()
    assert cache.observe("deployments", deployment("7", image="new"))
    assert not cache.observe("deployments", deployment("5", image="old"))  # a late event
    raw = cache.raw("deployments", namespace="ns", name="iris")
    assert raw is not None and raw["spec"]["template"]["spec"]["containers"][0]["image"] == "new"
    assert "managedFields" not in raw["metadata"]
    view = cache.get("deployments", DeploymentView, namespace="ns", name="iris")
    assert view is not None and view.status.replicas == 1


def test_the_cache_keeps_objects_of_one_kind_deflated_against_each_other() -> None:
    cache = ObjectCache()
    many = [
        {**deployment("1", owner=f"model-{i}"), "spec": {"replicas": i, "template": {"x": "y" * 2000}}}
        for i in range(50)
    ]
    for manifest in many:
        assert cache.observe("deployments", manifest)
    json_bytes = sum(len(json.dumps(m, separators=(",", ":"))) for m in many)
    # One dictionary (the first object) plus a few dozen bytes per object, instead of 2 KB each.
    assert cache.stored_bytes() < json_bytes // 10
    assert cache.raw("deployments", namespace="ns", name="model-49") == {
        **many[49],
        "metadata": {k: v for k, v in many[49]["metadata"].items() if k != "managedFields"},
    }


def test_an_object_unlike_the_first_of_its_kind_reads_back_unchanged() -> None:
    cache = ObjectCache()
    cache.observe("deployments", deployment("1"))
    odd = {"metadata": {"name": "odd", "namespace": "other", "resourceVersion": "2"}, "spec": {"é": ["\u0000", 1e308]}}
    cache.observe("deployments", odd)
    assert cache.raw("deployments", namespace="other", name="odd") == odd
    assert [d.metadata.name for d in cache.items("deployments", DeploymentView, namespace="other")] == ["odd"]


def test_a_child_is_in_sync_when_it_holds_every_field_the_operator_sets() -> None:
    desired = {"spec": {"ports": [{"port": 80, "targetPort": "http"}]}}
    defaulted = {"spec": {"ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}], "clusterIP": "10.0.0.1"}}
    edited = {"spec": {"ports": [{"port": 81, "targetPort": "http", "protocol": "TCP"}]}}
    extra_port = {"spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 9}]}}

    assert contains(defaulted, desired)
    assert not contains(edited, desired)
    assert not contains(extra_port, desired)


def test_a_changed_or_deleted_child_wakes_its_owner(controller: Controller) -> None:
    handle = controller.child("deployments")
    handle(event={"type": None, "object": deployment("1")})
    assert len(controller.queue) == 0  # the initial listing: owners are reconciled at start anyway

    handle(event={"type": "MODIFIED", "object": deployment("2", image="edited-by-hand")})
    assert controller.queue.due(("modeldeployments", "ns", "iris")) is not None

    controller.queue = type(controller.queue)(lambda key: None, workers=1)
    handle(event={"type": "DELETED", "object": deployment("3")})
    assert controller.queue.due(("modeldeployments", "ns", "iris")) is not None
    assert controller.ctx.cache.raw("deployments", namespace="ns", name="iris") is None


def pdb(version: str, *, min_available: int = 1, healthy: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": "iris",
            "namespace": "ns",
            "resourceVersion": version,
            "ownerReferences": [{"kind": "ModelDeployment", "name": "iris", "controller": True}],
        },
        "spec": {"minAvailable": min_available},
        "status": {"currentHealthy": healthy, "observedGeneration": 1},
    }


def test_a_status_change_no_decision_reads_wakes_nobody_but_an_edit_does(controller: Controller) -> None:
    handle = controller.child("poddisruptionbudgets")
    handle(event={"type": "ADDED", "object": pdb("1")})
    controller.queue = type(controller.queue)(lambda key: None, workers=1)

    handle(event={"type": "MODIFIED", "object": pdb("2", healthy=1)})  # the disruption controller counting pods
    assert len(controller.queue) == 0

    handle(event={"type": "MODIFIED", "object": pdb("3", min_available=0, healthy=1)})  # edited by hand
    assert controller.queue.due(("modeldeployments", "ns", "iris")) is not None


def test_a_deployment_wakes_its_owner_when_its_rollout_moves_not_when_a_timestamp_does(controller: Controller) -> None:
    handle = controller.child("deployments")
    before = deployment("1")
    handle(event={"type": "ADDED", "object": before})
    controller.queue = type(controller.queue)(lambda key: None, workers=1)

    stamped = {
        **deployment("2"),
        "status": {"replicas": 1, "conditions": [{"type": "Progressing", "lastUpdateTime": "t2"}]},
    }
    handle(event={"type": "MODIFIED", "object": stamped})
    assert len(controller.queue) == 0

    ready = {**deployment("3"), "status": {"replicas": 1, "readyReplicas": 1}}
    handle(event={"type": "MODIFIED", "object": ready})
    assert controller.queue.due(("modeldeployments", "ns", "iris")) is not None


def test_the_operators_own_writes_coming_back_wake_nobody(controller: Controller) -> None:
    controller.written(("modeldeployments", "ns", "iris"), "9")
    handle = controller.own("modeldeployments")

    handle(event={"type": "MODIFIED", "object": model_deployment("9")})
    assert len(controller.queue) == 0
    handle(event={"type": "MODIFIED", "object": model_deployment("10")})  # someone else's change
    assert controller.queue.due(("modeldeployments", "ns", "iris")) is not None


def test_our_own_write_that_a_dataset_is_ready_wakes_the_training_runs_waiting_for_it(controller: Controller) -> None:
    run = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "iris-tree", "namespace": "ns", "uid": "r", "resourceVersion": "3"},
        "spec": {"datasetRef": {"name": "iris"}, "model": {"algorithm": "decision_tree"}},
        "status": {"phase": "WaitingForData"},
    }
    controller.ctx.cache.observe("trainingruns", run)
    ready = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "iris", "namespace": "ns", "uid": "d", "resourceVersion": "8"},
        "spec": {"source": {"builtin": {"name": "iris"}}, "target": "target"},
        "status": {"phase": "Ready", "version": "abc"},
    }
    controller.written(("datasets", "ns", "iris"), "8")

    controller.own("datasets")(event={"type": "MODIFIED", "object": ready})

    assert controller.queue.due(("datasets", "ns", "iris")) is None  # nothing new for the Dataset itself
    assert controller.queue.due(("trainingruns", "ns", "iris-tree")) is not None


def test_a_training_run_the_operator_created_is_reconciled_when_its_creation_comes_back(
    controller: Controller,
) -> None:
    retraining = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "iris-retrain-1", "namespace": "ns", "uid": "r", "resourceVersion": "12"},
        "spec": {"datasetRef": {"name": "iris"}, "model": {"algorithm": "decision_tree"}},
    }
    controller.written(("trainingruns", "ns", "iris-retrain-1"), "12")  # what Context.create notes

    controller.own("trainingruns")(event={"type": "ADDED", "object": retraining})

    assert controller.queue.due(("trainingruns", "ns", "iris-retrain-1")) is not None
