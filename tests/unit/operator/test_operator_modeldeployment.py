"""ModelDeployment decisions: which model, and what rollout and pods make of the status."""

from __future__ import annotations

from typing import Any

from modelops.api.common import ModelVersion
from modelops.operator.decisions import modeldeployment as decide
from modelops.operator.views import DeploymentView, PodView

from .kstatus import cond, flags
from .operator_objects import MODEL_URI, NOW, model_deployment, training_run

TR_SPEC: dict[str, Any] = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}
MD_SPEC: dict[str, Any] = {"model": {"uri": MODEL_URI}, "replicas": {"min": 2, "max": 3}}
MODEL = ModelVersion(uri=MODEL_URI, version="0123456789abcdef", run="rf")
NEWER = ModelVersion(uri=f"{MODEL_URI[:-16]}fedcba9876543210", version="fedcba9876543210", run="rf2")
ENDPOINT = "http://md.ns.svc.cluster.local/v2/models/md"


def run(name: str, phase: str, completion: str, with_model: bool = True) -> Any:
    status: dict[str, Any] = {"phase": phase, "completionTime": completion}
    if with_model:
        status["model"] = {"uri": f"file:///s/ns/models/{name}/v", "version": name}
    return training_run(name, TR_SPEC, **status)


def deployment(replicas: int, ready: int, updated: int | None = None, generation: int = 1) -> DeploymentView:
    return DeploymentView.model_validate(
        {
            "metadata": {"name": "md", "generation": generation},
            "status": {
                "observedGeneration": generation,
                "replicas": replicas,
                "readyReplicas": ready,
                "updatedReplicas": replicas if updated is None else updated,
                "availableReplicas": ready,
            },
        }
    )


def pod(version: str, **container: Any) -> PodView:
    return PodView.model_validate(
        {
            "metadata": {"name": f"md-{version[:4]}", "labels": {"modelops.io/model-version": version}},
            "status": {"containerStatuses": [{"name": "server", **container}]},
        }
    )


def test_from_latest_picks_the_newest_succeeded_run() -> None:
    runs = [
        run("old", "Succeeded", "2026-01-01T00:00:00Z"),
        run("new", "Succeeded", "2026-01-03T00:00:00Z"),
        run("newest-failed", "Failed", "2026-01-04T00:00:00Z", with_model=False),
        run("rejected", "Rejected", "2026-01-05T00:00:00Z"),
    ]
    assert decide.newest_succeeded(runs, {"app": "iris"}) == ModelVersion(
        uri="file:///s/ns/models/new/v", version="new", run="new"
    )


def test_from_latest_without_candidates_is_model_not_found() -> None:
    found = decide.newest_succeeded([run("r", "Failed", "x", with_model=False)], {"app": "iris"})
    assert isinstance(found, decide.Unresolved) and found.reason == "ModelNotFound"


def test_a_missing_or_unfinished_run_is_waited_for_and_a_rejected_one_needs_a_human() -> None:
    assert decide.from_run("x", None) == decide.Unresolved("TrainingRunNotFound", "TrainingRun x does not exist")
    unfinished = decide.from_run("r", run("r", "Running", "", with_model=False))
    assert isinstance(unfinished, decide.Unresolved) and not unfinished.terminal
    rejected = decide.from_run("r", run("r", "Rejected", ""))
    assert isinstance(rejected, decide.Unresolved) and rejected.terminal


def test_a_uri_names_its_version_in_its_last_segment() -> None:
    assert decide.from_uri(MODEL_URI).version == "0123456789abcdef"


def test_a_model_outside_the_namespaces_part_of_the_store_is_refused_unless_allowed() -> None:
    own = "pvc:///data/store/ns/models/"
    elsewhere = ModelVersion(uri="pvc:///data/store/other/models/rf/0123456789abcdef", version="0123456789abcdef")
    refused = decide.outside_namespace(elsewhere, own_prefix=own, allowed=[])
    assert refused is not None and refused.reason == "ModelOutsideNamespace" and refused.terminal
    assert decide.outside_namespace(MODEL, own_prefix=own, allowed=[]) is None
    assert decide.outside_namespace(elsewhere, own_prefix=own, allowed=["pvc:///data/store/other/"]) is None


def test_a_deployment_is_ready_when_min_replicas_are_updated_and_ready() -> None:
    md = model_deployment("md", MD_SPEC)
    assert decide.decide(md, MODEL, deployment(1, 1), [], ENDPOINT, NOW).status.phase == "Deploying"
    assert decide.decide(md, MODEL, deployment(2, 2, 1), [], ENDPOINT, NOW).status.phase == "Deploying"
    plan = decide.decide(md, MODEL, deployment(2, 2), [], ENDPOINT, NOW)
    st = plan.status
    assert (st.phase, st.ready, st.replicas, st.ready_replicas) == ("Ready", "2/2", 2, 2)
    assert flags(st) == ("True", "False", "False")
    assert st.endpoint == ENDPOINT and st.model == MODEL
    assert [(h.version, h.run, h.promoted) for h in st.history or []] == [
        ("0123456789abcdef", "rf", "2026-01-02T03:04:05Z")
    ]


def test_a_rollout_in_flight_is_reconciling() -> None:
    plan = decide.decide(model_deployment("md", MD_SPEC), MODEL, deployment(2, 1, 1), [], ENDPOINT, NOW)
    assert plan.status.phase == "Deploying"
    assert flags(plan.status) == ("False", "True", "False")


def test_a_new_model_is_appended_to_the_history_once() -> None:
    md = model_deployment("md", MD_SPEC)
    md = md.model_copy(update={"status": decide.decide(md, MODEL, deployment(2, 2), [], ENDPOINT, NOW).status})
    plan = decide.decide(md, NEWER, deployment(2, 2, 1, 2), [], ENDPOINT, NOW)
    assert [h.version for h in plan.status.history or []] == ["0123456789abcdef", "fedcba9876543210"]
    assert "Promoted" in [e.reason for e in plan.events]
    md = md.model_copy(update={"status": plan.status})
    again = decide.decide(md, NEWER, deployment(2, 2, 1, 2), [], ENDPOINT, NOW)
    assert [h.version for h in again.status.history or []] == ["0123456789abcdef", "fedcba9876543210"]


def test_an_unresolved_model_is_pending_with_the_reason() -> None:
    md = model_deployment("md", {"model": {"trainingRunRef": {"name": "gone"}}})
    plan = decide.decide(md, decide.Unresolved("TrainingRunNotFound", "gone"), None, [], ENDPOINT, NOW)
    assert plan.status.phase == "Pending"
    assert cond(plan.status, "Ready").reason == "TrainingRunNotFound"
    assert cond(plan.status, "ModelResolved").status == "False"
    assert flags(plan.status) == ("False", "True", "False")


def test_a_model_only_a_human_can_fix_fails_and_stalls() -> None:
    md = model_deployment("md", MD_SPEC)
    refused = decide.Unresolved("ModelOutsideNamespace", "not yours", terminal=True)
    plan = decide.decide(md, refused, None, [], ENDPOINT, NOW)
    assert plan.status.phase == "Failed"
    assert flags(plan.status) == ("False", "False", "True")


def test_pods_of_the_new_model_crash_looping_make_it_degraded_with_the_containers_words() -> None:
    crashing = pod(
        "0123456789abcdef",
        restartCount=3,
        state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        lastState={"terminated": {"exitCode": 1, "message": "error: cannot serve x: model.skops was tampered with"}},
    )
    old_serving = pod("fedcba9876543210", ready=True, state={})
    plan = decide.decide(
        model_deployment("md", MD_SPEC), MODEL, deployment(3, 2, 1), [old_serving, crashing], ENDPOINT, NOW
    )
    assert plan.status.phase == "Degraded"
    ready = cond(plan.status, "Ready")
    assert ready.reason == "CrashLoopBackOff"
    assert "model.skops was tampered with" in ready.message
    assert flags(plan.status) == ("False", "False", "True")
    assert ("Warning", "CrashLoopBackOff") in [(e.type, e.reason) for e in plan.events]


def test_a_degraded_deployment_is_ready_again_once_the_rollout_completes() -> None:
    md = model_deployment("md", MD_SPEC, phase="Degraded")
    assert decide.decide(md, MODEL, deployment(2, 2), [], ENDPOINT, NOW).status.phase == "Ready"


def test_old_pods_failing_do_not_degrade_a_rollout_of_the_new_model() -> None:
    old_crashing = pod("fedcba9876543210", state={"waiting": {"reason": "CrashLoopBackOff"}})
    plan = decide.decide(model_deployment("md", MD_SPEC), MODEL, deployment(2, 1, 1), [old_crashing], ENDPOINT, NOW)
    assert plan.status.phase == "Deploying"
