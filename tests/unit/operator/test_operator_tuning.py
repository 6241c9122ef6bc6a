"""A search spread over pods: the tune Indexed Job, its progress in the status, then the final train Job."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.api.trainingrun import Trials
from modelops.contract.jobs import TrainResult, TuneJobArgs
from modelops.operator.builders.jobs import train_job, tune_job
from modelops.operator.decisions import trainingrun as decide
from modelops.operator.jobstate import JobOutcome, job_outcome
from modelops.operator.settings import OperatorSettings
from modelops.operator.views import JobView
from modelops.trainer.cli import build_parser, train_args, tune_args

from .kstatus import cond, flags
from .operator_objects import NOW, training_run

SEARCH: dict[str, Any] = {"parameters": {"max_depth": list(range(2, 10)), "n_estimators": [10, 50]}, "maxTrials": 16}
SPEC: dict[str, Any] = {
    "datasetRef": {"name": "iris"},
    "model": {"algorithm": "random_forest"},
    "tuning": {**SEARCH, "parallelism": 2},
}
RESULT = TrainResult(
    name="rf",
    version="m1",
    uri="file:///s/ns/models/rf/m1",
    task="classification",
    metrics={"accuracy": 0.97},
    passed=True,
    reasons=[],
    formats=["skops", "onnx"],
    sha256="ab" * 32,
    best_hyperparameters={"max_depth": 4, "n_estimators": 50},
    trials=16,
)


def args_of(job: dict[str, Any]) -> list[str]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return list(container["args"])


def test_the_tune_job_is_an_indexed_job_of_one_pod_per_shard(settings: OperatorSettings) -> None:
    job = tune_job(training_run("rf", SPEC), "v7", settings)

    assert job["metadata"]["name"] == "rf-tune-1"
    assert job["metadata"]["labels"]["modelops.io/component"] == "tune"
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 2, 2)
    assert spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2]  # bad input: no retry
    assert "signing" not in str(spec["template"]["spec"]["volumes"])


def test_a_search_never_gets_more_pods_than_trials(settings: OperatorSettings) -> None:
    spec = {**SPEC, "tuning": {"parameters": {"max_depth": [2, 3, 4]}, "parallelism": 10}}
    assert tune_job(training_run("rf", spec), "v7", settings)["spec"]["completions"] == 3


def test_a_run_tuned_in_one_pod_has_no_tune_job(settings: OperatorSettings) -> None:
    with pytest.raises(ValueError, match="no tune Job"):
        tune_job(training_run("rf", {**SPEC, "tuning": SEARCH}), "v7", settings)
    assert "--tuning-shards" not in args_of(train_job(training_run("rf", {**SPEC, "tuning": SEARCH}), "v7", settings))


def test_the_trainer_parses_the_tune_jobs_command_line_back_into_the_same_arguments(
    settings: OperatorSettings,
) -> None:
    tr = training_run("rf", SPEC)

    received = tune_args(build_parser().parse_args(args_of(tune_job(tr, "abc", settings))))

    pinned = tr.spec.model_copy(update={"dataset_ref": tr.spec.dataset_ref.model_copy(update={"version": "abc"})})
    assert received == TuneJobArgs(
        namespace="ns", name="rf", store=settings.store, dataset="iris", dataset_version="abc", spec=pinned, shards=2
    )


def test_the_final_train_job_picks_from_the_shards_the_tune_job_ran(settings: OperatorSettings) -> None:
    received = train_args(build_parser().parse_args(args_of(train_job(training_run("rf", SPEC), "abc", settings))))
    assert received.tuning_shards == 2


def test_a_long_runs_tune_job_leaves_room_for_every_pods_hostname(settings: OperatorSettings) -> None:
    name = tune_job(training_run("r" * 63, SPEC), "v7", settings)["metadata"]["name"]
    assert len(f"{name}-99") <= 63 and name.endswith("-tune-1")


def test_completed_indexes_are_read_with_their_ranges() -> None:
    job = JobView.model_validate({"metadata": {"name": "j"}, "status": {"completedIndexes": "0,2-4,7"}})
    assert job.completed_indexes() == {0, 2, 3, 4, 7}
    assert job_outcome(job, []).completed_indexes == {0, 2, 3, 4, 7}


def tuning_run(**status: Any) -> Any:
    return training_run("rf", SPEC, phase="Running", jobName="rf-tune-1", datasetVersion="v7", **status)


def test_a_spread_search_starts_with_the_tune_job_and_shows_no_trial_done() -> None:
    plan = decide.start(training_run("rf", SPEC), "v7", NOW)

    assert plan.status.job_name == "rf-tune-1" and plan.create_job is not None
    assert plan.status.trials == Trials(done=0, total=16)
    assert (plan.status.phase, cond(plan.status, "Ready").reason) == ("Running", "Tuning")
    assert [(e.reason, e.message) for e in plan.events] == [
        ("Tuning", "Job rf-tune-1 runs 16 trials in 2 pods on iris@v7")
    ]
    assert decide.following(training_run("rf", SPEC, **plan.status.wire())) == "tune"


def test_each_finished_pod_adds_its_trials_to_the_progress_without_an_event() -> None:
    plan = decide.follow_tuning(tuning_run(), JobOutcome("running", completed_indexes=frozenset({1})), NOW)

    assert plan.status.trials == Trials(done=8, total=16)
    assert cond(plan.status, "Ready").message == "Job rf-tune-1: 8 of 16 trials done in 2 pods"
    assert flags(plan.status) == ("False", "True", "False") and plan.create_job is None


def test_once_every_shard_is_in_the_train_job_picks_refits_and_saves() -> None:
    plan = decide.follow_tuning(tuning_run(), JobOutcome("succeeded", "{}", 0), NOW)

    assert plan.status.job_name == "rf-train-1" and plan.create_job is not None
    assert plan.status.trials == Trials(done=16, total=16)
    assert [e.reason for e in plan.events] == ["Training"]
    assert decide.following(training_run("rf", SPEC, **plan.status.wire())) == "train"


def test_a_failed_shard_fails_the_run_with_the_trainers_words() -> None:
    outcome = JobOutcome("failed", '{"error": "spec.tuning.parameters: bad", "reason": "BadInput"}', 2)
    plan = decide.follow_tuning(tuning_run(), outcome, NOW)

    assert (plan.status.phase, cond(plan.status, "Ready").reason) == ("Failed", "BadInput")
    assert cond(plan.status, "Ready").message == "spec.tuning.parameters: bad"
    assert flags(plan.status) == ("False", "False", "True")


def test_a_tune_job_deleted_by_hand_is_made_again() -> None:
    assert decide.follow_tuning(tuning_run(), JobOutcome("absent"), NOW).create_job is not None


def test_the_finished_run_shows_every_trial_done() -> None:
    run = training_run("rf", SPEC, phase="Running", jobName="rf-train-1", datasetVersion="v7")
    plan = decide.follow(run, JobOutcome("succeeded", RESULT.model_dump_json(), 0), NOW, "img:1")

    assert plan.status.phase == "Succeeded"
    assert plan.status.trials == Trials(done=16, total=16)
    assert plan.status.best_hyperparameters == {"max_depth": 4, "n_estimators": 50}


def test_a_job_of_another_generation_is_not_followed() -> None:
    assert (
        decide.following(
            training_run("rf", SPEC, generation=2, phase="Running", jobName="rf-tune-1", datasetVersion="v7")
        )
        is None
    )
