"""TrainingRun decisions: waiting for data, pinning the version, following the train Job."""

from __future__ import annotations

import datetime as dt
from typing import Any

from modelops.contract.jobs import TrainResult
from modelops.operator.decisions import trainingrun as decide
from modelops.operator.jobstate import JobOutcome

from .kstatus import cond, flags
from .operator_objects import NOW, dataset, training_run

TR_SPEC: dict[str, Any] = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}
RESULT = TrainResult(
    name="rf",
    version="m1",
    uri="file:///s/ns/models/rf/m1",
    task="classification",
    metrics={"accuracy": 0.97, "f1_macro": 0.96},
    passed=True,
    reasons=[],
    formats=["skops"],
    sha256="ab" * 32,
    code_version="0.1.0",
)
DATASET = dataset("iris", {"source": {"builtin": {"name": "iris"}}}, phase="Ready", version="v7")


def running(spec: dict[str, Any] = TR_SPEC) -> Any:
    return training_run("rf", spec, phase="Running", jobName="rf-train-1", datasetVersion="v7")


def test_a_run_waits_for_a_missing_dataset_with_a_reason_and_is_reconciling() -> None:
    plan, version = decide.wait_for_data(training_run("rf", TR_SPEC), None, NOW)
    assert version is None
    assert plan.status.phase == "WaitingForData"
    assert cond(plan.status, "Ready").reason == "DatasetNotFound"
    assert cond(plan.status, "DataReady").status == "False"
    assert flags(plan.status) == ("False", "True", "False")
    assert plan.status.observed_generation == 1


def test_waiting_again_changes_nothing_and_posts_no_new_event() -> None:
    tr = training_run("rf", TR_SPEC)
    plan, _ = decide.wait_for_data(tr, None, NOW)
    waiting = tr.model_copy(update={"status": plan.status})
    again, _ = decide.wait_for_data(waiting, None, NOW + dt.timedelta(seconds=30))
    assert again.events == []
    assert again.status == waiting.status


def test_a_run_pins_the_datasets_current_version() -> None:
    tr = training_run("rf", TR_SPEC)
    _, version = decide.wait_for_data(tr, DATASET, NOW)
    assert version == "v7"
    start = decide.start(tr, "v7", NOW)
    assert (start.status.phase, start.status.dataset_version) == ("Running", "v7")
    assert flags(start.status) == ("False", "True", "False")


def test_a_run_uses_the_version_its_spec_pins() -> None:
    spec = {**TR_SPEC, "datasetRef": {"name": "iris", "version": "v3"}}
    assert decide.wait_for_data(training_run("rf", spec), DATASET, NOW)[1] == "v3"


def test_a_passed_run_records_model_metrics_score_and_lineage() -> None:
    plan = decide.follow(running(), JobOutcome("succeeded", RESULT.model_dump_json(), 0), NOW, "img:1")
    st = plan.status
    assert st.phase == "Succeeded" and flags(st) == ("True", "False", "False")
    assert st.model is not None and (st.model.uri, st.model.version) == ("file:///s/ns/models/rf/m1", "m1")
    assert st.metrics == {"test": {"accuracy": 0.97, "f1_macro": 0.96}}
    assert st.score == "accuracy=0.9700"
    assert st.lineage is not None
    assert (st.lineage.dataset, st.lineage.image, st.lineage.code_version) == ("iris@v7", "img:1", "0.1.0")


def test_score_follows_the_tuning_objective() -> None:
    tr = training_run("rf", {**TR_SPEC, "tuning": {"parameters": {"x": [1]}, "objective": {"metric": "f1_macro"}}})
    assert decide.score(tr, "classification", {"accuracy": 0.9, "f1_macro": 0.85}) == "f1_macro=0.8500"


def test_failed_gates_reject_the_run_with_reasons_a_warning_and_stall() -> None:
    result = RESULT.model_copy(update={"passed": False, "reasons": ["accuracy 0.97 < 0.99"]})
    plan = decide.follow(running(), JobOutcome("succeeded", result.model_dump_json(), 0), NOW, "img:1")
    assert plan.status.phase == "Rejected"
    assert plan.status.reasons == ["accuracy 0.97 < 0.99"]
    assert flags(plan.status) == ("False", "False", "True")
    assert [(e.type, e.reason) for e in plan.events] == [("Warning", "GatesFailed")]


def test_a_failed_job_fails_the_run_and_stalls() -> None:
    message = '{"error": "no column y", "reason": "BadInput"}'
    plan = decide.follow(running(), JobOutcome("failed", message, 2, 1, "PodFailurePolicy"), NOW, "img:1")
    assert (plan.status.phase, cond(plan.status, "Ready").reason) == ("Failed", "BadInput")
    assert flags(plan.status) == ("False", "False", "True")


def test_an_unreadable_result_fails_the_run_instead_of_crashing() -> None:
    plan = decide.follow(running(), JobOutcome("succeeded", "not json", 0), NOW, "img:1")
    assert (plan.status.phase, cond(plan.status, "Ready").reason) == ("Failed", "ResultUnreadable")


def test_a_finished_run_for_its_current_spec_is_left_alone() -> None:
    done = training_run("rf", TR_SPEC, phase="Succeeded", observedGeneration=1)
    assert decide.is_finished(done)
    assert not decide.is_finished(training_run("rf", TR_SPEC, generation=2, phase="Succeeded", observedGeneration=1))
