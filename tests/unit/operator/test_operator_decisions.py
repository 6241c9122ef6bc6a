"""State machines of the three kinds, from (object, children, clock) to (status, actions, Events)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from modelops.operator import decisions
from modelops.operator.jobstate import JobOutcome

from .operator_objects import NOW, owner

DS_SPEC: dict[str, Any] = {"source": {"builtin": {"name": "iris"}}, "target": "target"}
DATASET_RESULT = {
    "name": "iris",
    "version": "v1",
    "rows": 150,
    "columns": 5,
    "artifact": "file:///s/d",
    "report": "file:///s/r.html",
    "profile": "file:///s/p.json",
    "quality": {"duplicates": 1},
}
TRAIN_RESULT = {
    "name": "rf",
    "version": "m1",
    "uri": "file:///s/models/rf/m1",
    "task": "classification",
    "metrics": {"accuracy": 0.97, "f1_macro": 0.96},
    "passed": True,
    "reasons": [],
    "formats": ["skops"],
    "sha256": "ab" * 32,
}


def cond(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def merged(obj: dict[str, Any], plan: decisions.Plan) -> dict[str, Any]:
    return {**obj, "status": {**(obj.get("status") or {}), **plan.status}}


# ---------------------------------------------------------------- Dataset


def test_a_new_dataset_starts_its_first_prepare_job() -> None:
    ds = owner("Dataset", "iris", DS_SPEC, generation=4)
    assert decisions.dataset_next_run(ds, NOW) == (4, 0)
    plan = decisions.dataset_start(ds, (4, 0), "iris-prepare-4-0", NOW)
    assert plan.status["phase"] == "Running"
    assert plan.status["jobName"] == "iris-prepare-4-0"
    assert plan.status["observedGeneration"] == 4
    assert cond(plan.status, "Progressing")["status"] == "True"
    assert [e.reason for e in plan.events] == ["Preparing"]


def test_a_job_in_flight_is_followed_not_restarted() -> None:
    ds = owner("Dataset", "iris", DS_SPEC)
    ds = merged(ds, decisions.dataset_start(ds, (1, 0), "iris-prepare-1-0", NOW))
    assert decisions.dataset_next_run(ds, NOW + dt.timedelta(hours=5)) is None
    assert decisions.dataset_follow(ds, JobOutcome("running"), NOW).status == {}


def test_a_succeeded_job_fills_version_history_and_ready() -> None:
    ds = owner("Dataset", "iris", DS_SPEC)
    ds = merged(ds, decisions.dataset_start(ds, (1, 0), "iris-prepare-1-0", NOW))
    plan = decisions.dataset_follow(ds, JobOutcome("succeeded", json.dumps(DATASET_RESULT), 0), NOW)
    st = plan.status
    assert (st["phase"], st["version"], st["rows"], st["columns"]) == ("Ready", "v1", 150, 5)
    assert st["profile"] == "file:///s/p.json" and st["report"] == "file:///s/r.html"
    assert st["versions"] == [{"version": "v1", "rows": 150, "created": "2026-01-02T03:04:05Z"}]
    assert cond(st, "Ready")["status"] == "True" and cond(st, "Progressing")["status"] == "False"
    assert [e.reason for e in plan.events] == ["Prepared"]


def test_refresh_starts_a_new_run_only_after_the_interval() -> None:
    ds = owner("Dataset", "iris", {**DS_SPEC, "refreshInterval": "1h"})
    ds = merged(ds, decisions.dataset_start(ds, (1, 0), "iris-prepare-1-0", NOW))
    ds = merged(ds, decisions.dataset_follow(ds, JobOutcome("succeeded", json.dumps(DATASET_RESULT), 0), NOW))
    assert decisions.dataset_next_run(ds, NOW + dt.timedelta(minutes=59)) is None
    assert decisions.dataset_next_run(ds, NOW + dt.timedelta(hours=1)) == (1, 1)
    refreshing = decisions.dataset_start(ds, (1, 1), "iris-prepare-1-1", NOW)
    assert "phase" not in refreshing.status  # stays Ready while it refreshes: runs keep training on it


def test_unchanged_content_keeps_the_version_and_history() -> None:
    ds = owner("Dataset", "iris", {**DS_SPEC, "refreshInterval": "1h"})
    ds = merged(ds, decisions.dataset_start(ds, (1, 0), "iris-prepare-1-0", NOW))
    ds = merged(ds, decisions.dataset_follow(ds, JobOutcome("succeeded", json.dumps(DATASET_RESULT), 0), NOW))
    ds = merged(ds, decisions.dataset_start(ds, (1, 1), "iris-prepare-1-1", NOW))
    plan = decisions.dataset_follow(ds, JobOutcome("succeeded", json.dumps(DATASET_RESULT), 0), NOW)
    assert len(plan.status["versions"]) == 1
    assert "Unchanged" in [e.reason for e in plan.events]


def test_a_spec_change_starts_over_for_the_new_generation() -> None:
    ds = owner("Dataset", "iris", DS_SPEC)
    ds = merged(ds, decisions.dataset_start(ds, (1, 0), "iris-prepare-1-0", NOW))
    ds["metadata"]["generation"] = 2
    assert decisions.dataset_next_run(ds, NOW) == (2, 0)


def test_a_bad_input_failure_reports_the_trainers_reason() -> None:
    ds = owner("Dataset", "iris", DS_SPEC)
    ds = merged(ds, decisions.dataset_start(ds, (1, 0), "iris-prepare-1-0", NOW))
    message = json.dumps({"error": "target column 'x' not found", "reason": "BadInput"})
    plan = decisions.dataset_follow(ds, JobOutcome("failed", message, 2, 1, "PodFailurePolicy"), NOW)
    assert plan.status["phase"] == "Failed"
    ready = cond(plan.status, "Ready")
    assert (ready["reason"], ready["message"]) == ("BadInput", "target column 'x' not found")
    assert [(e.type, e.reason) for e in plan.events] == [("Warning", "BadInput")]
    assert plan.status["failures"] == 1


def test_a_deleted_job_in_flight_is_made_again_under_the_same_name() -> None:
    ds = owner("Dataset", "iris", DS_SPEC)
    ds = merged(ds, decisions.dataset_start(ds, (1, 0), "iris-prepare-1-0", NOW))
    assert decisions.dataset_follow(ds, JobOutcome("absent"), NOW).create_job == (1, 0)


# ---------------------------------------------------------------- TrainingRun

TR_SPEC: dict[str, Any] = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}


def test_a_run_waits_for_a_missing_dataset_with_a_reason() -> None:
    plan, version = decisions.training_wait_for_data(owner("TrainingRun", "rf", TR_SPEC), None, NOW)
    assert version is None
    assert plan.status["phase"] == "WaitingForData"
    assert cond(plan.status, "Ready")["reason"] == "DatasetNotFound"
    assert cond(plan.status, "DataReady")["status"] == "False"


def test_waiting_again_posts_no_new_event() -> None:
    tr = owner("TrainingRun", "rf", TR_SPEC)
    plan, _ = decisions.training_wait_for_data(tr, None, NOW)
    again, _ = decisions.training_wait_for_data(merged(tr, plan), None, NOW + dt.timedelta(seconds=30))
    assert again.events == []
    assert not decisions.changed(merged(tr, plan)["status"], again.status)


def test_a_run_pins_the_datasets_current_version() -> None:
    ds = owner("Dataset", "iris", DS_SPEC, phase="Ready", version="v7")
    _, version = decisions.training_wait_for_data(owner("TrainingRun", "rf", TR_SPEC), ds, NOW)
    assert version == "v7"
    start = decisions.training_start(owner("TrainingRun", "rf", TR_SPEC), "v7", "rf-train-1", NOW)
    assert (start.status["phase"], start.status["datasetVersion"]) == ("Running", "v7")


def test_a_run_uses_the_version_its_spec_pins() -> None:
    ds = owner("Dataset", "iris", DS_SPEC, phase="Ready", version="v7")
    spec = {**TR_SPEC, "datasetRef": {"name": "iris", "version": "v3"}}
    assert decisions.training_wait_for_data(owner("TrainingRun", "rf", spec), ds, NOW)[1] == "v3"


def test_a_passed_run_records_model_metrics_and_score() -> None:
    tr = owner("TrainingRun", "rf", TR_SPEC, phase="Running", jobName="rf-train-1", datasetVersion="v7")
    plan = decisions.training_follow(tr, JobOutcome("succeeded", json.dumps(TRAIN_RESULT), 0), NOW, "img:1")
    st = plan.status
    assert st["phase"] == "Succeeded"
    assert st["model"]["uri"] == "file:///s/models/rf/m1" and st["model"]["version"] == "m1"
    assert st["metrics"] == {"test": {"accuracy": 0.97, "f1_macro": 0.96}}
    assert st["score"] == "accuracy=0.9700"
    assert st["lineage"] == {"dataset": "iris@v7", "image": "img:1"}


def test_score_follows_the_tuning_objective() -> None:
    spec = {**TR_SPEC, "tuning": {"parameters": {"x": [1]}, "objective": {"metric": "f1_macro"}}}
    assert decisions.score(spec, "classification", {"accuracy": 0.9, "f1_macro": 0.85}) == "f1_macro=0.8500"


def test_failed_gates_reject_the_run_with_reasons_and_a_warning() -> None:
    tr = owner("TrainingRun", "rf", TR_SPEC, phase="Running", jobName="rf-train-1", datasetVersion="v7")
    result = {**TRAIN_RESULT, "passed": False, "reasons": ["accuracy 0.97 < 0.99"]}
    plan = decisions.training_follow(tr, JobOutcome("succeeded", json.dumps(result), 0), NOW, "img:1")
    assert plan.status["phase"] == "Rejected"
    assert plan.status["reasons"] == ["accuracy 0.97 < 0.99"]
    assert [(e.type, e.reason) for e in plan.events] == [("Warning", "GatesFailed")]


def test_an_unreadable_result_fails_the_run_instead_of_crashing() -> None:
    tr = owner("TrainingRun", "rf", TR_SPEC, phase="Running", jobName="rf-train-1", datasetVersion="v7")
    plan = decisions.training_follow(tr, JobOutcome("succeeded", "not json", 0), NOW, "img:1")
    assert (plan.status["phase"], cond(plan.status, "Ready")["reason"]) == ("Failed", "ResultUnreadable")


# ---------------------------------------------------------------- ModelDeployment


def run(name: str, phase: str, completion: str, uri: str | None = "file:///m") -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "completionTime": completion}
    if uri:
        status["model"] = {"uri": f"{uri}/{name}", "version": name}
    return owner("TrainingRun", name, TR_SPEC, **status)


def test_from_latest_picks_the_newest_succeeded_run() -> None:
    runs = [
        run("old", "Succeeded", "2026-01-01T00:00:00Z"),
        run("new", "Succeeded", "2026-01-03T00:00:00Z"),
        run("newest-failed", "Failed", "2026-01-04T00:00:00Z", None),
        run("rejected", "Rejected", "2026-01-05T00:00:00Z"),
    ]
    assert decisions.newest_succeeded(runs, {"app": "iris"}) == decisions.ResolvedModel("file:///m/new", "new", "new")


def test_from_latest_without_candidates_is_model_not_found() -> None:
    found = decisions.newest_succeeded([run("r", "Failed", "x", None)], {"app": "iris"})
    assert isinstance(found, decisions.Unresolved) and found.reason == "ModelNotFound"


def test_a_missing_or_unfinished_run_is_unresolved_with_its_reason() -> None:
    assert decisions.model_from_run("x", None) == decisions.Unresolved(
        "TrainingRunNotFound", "TrainingRun x does not exist"
    )
    unresolved = decisions.model_from_run("r", run("r", "Running", "", None))
    assert isinstance(unresolved, decisions.Unresolved) and unresolved.reason == "ModelNotReady"


def deployment(replicas: int, ready: int, updated: int | None = None, generation: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": ready,
            "updatedReplicas": replicas if updated is None else updated,
            "availableReplicas": ready,
        },
    }


MD_SPEC: dict[str, Any] = {"model": {"uri": "file:///m/1"}, "replicas": {"min": 2, "max": 3}}
MODEL = decisions.ResolvedModel("file:///m/1", "1", "rf")
ENDPOINT = "http://md.ns.svc.cluster.local/v2/models/md"


def test_a_deployment_is_ready_when_min_replicas_are_updated_and_ready() -> None:
    md = owner("ModelDeployment", "md", MD_SPEC)
    assert decisions.deployment_status(md, MODEL, deployment(1, 1), ENDPOINT, NOW).status["phase"] == "Deploying"
    assert decisions.deployment_status(md, MODEL, deployment(2, 2, 1), ENDPOINT, NOW).status["phase"] == "Deploying"
    plan = decisions.deployment_status(md, MODEL, deployment(2, 2), ENDPOINT, NOW)
    st = plan.status
    assert (st["phase"], st["ready"], st["replicas"], st["readyReplicas"]) == ("Ready", "2/2", 2, 2)
    assert st["endpoint"] == ENDPOINT and st["model"] == {"uri": "file:///m/1", "version": "1", "run": "rf"}
    assert st["history"] == [{"version": "1", "uri": "file:///m/1", "run": "rf", "promoted": "2026-01-02T03:04:05Z"}]


def test_a_new_model_is_appended_to_the_history_once() -> None:
    md = owner("ModelDeployment", "md", MD_SPEC)
    md = merged(md, decisions.deployment_status(md, MODEL, deployment(2, 2), ENDPOINT, NOW))
    newer = decisions.ResolvedModel("file:///m/2", "2", "rf2")
    plan = decisions.deployment_status(md, newer, deployment(2, 2, 1, 2), ENDPOINT, NOW)
    assert [h["version"] for h in plan.status["history"]] == ["1", "2"]
    assert "Promoted" in [e.reason for e in plan.events]
    again = decisions.deployment_status(merged(md, plan), newer, deployment(2, 2, 1, 2), ENDPOINT, NOW)
    assert [h["version"] for h in again.status["history"]] == ["1", "2"]


def test_an_unresolved_model_is_pending_with_the_reason() -> None:
    md = owner("ModelDeployment", "md", {"model": {"trainingRunRef": {"name": "gone"}}})
    plan = decisions.deployment_status(md, decisions.Unresolved("TrainingRunNotFound", "gone"), None, ENDPOINT, NOW)
    assert plan.status["phase"] == "Pending"
    assert cond(plan.status, "Ready")["reason"] == "TrainingRunNotFound"
    assert cond(plan.status, "ModelResolved")["status"] == "False"


def test_durations_parse_like_the_crd_pattern() -> None:
    assert decisions.parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert decisions.parse_duration("45s") == dt.timedelta(seconds=45)
    assert decisions.parse_duration(None) is None
