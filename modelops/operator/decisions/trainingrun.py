"""TrainingRun: wait for data, pin the version, follow its Jobs, record the model and the gates.

A run has one Job, `train`, unless its search runs in several pods: then the `tune` Indexed Job
scores the trials first (its completed indexes are the progress in `status.trials`), and once
it succeeded the `train` Job picks the best, refits and saves the model.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from modelops.api.objects import Dataset, TrainingRun
from modelops.api.trainingrun import Lineage, TrainedModel, TrainingRunStatus, Trials
from modelops.contract.jobs import TrainResult
from modelops.contract.trials import trials_done
from modelops.operator import naming
from modelops.operator.clock import now_iso
from modelops.operator.jobstate import JobOutcome
from modelops.operator.naming import JobRun
from modelops.operator.status import Plan, Transition, transition

TERMINAL_PHASES = ("Succeeded", "Failed", "Rejected")
DATA_READY = "DataReady"
DEFAULT_OBJECTIVE = {"classification": "accuracy", "regression": "r2", "clustering": "silhouette"}
Stage = Literal["tune", "train"]


def shards(tr: TrainingRun) -> int:
    """How many pods score the trials: above 1, the run starts with a tune Job."""
    return tr.spec.tuning.shard_count() if tr.spec.tuning else 1


def job_name(tr: TrainingRun, stage: Stage) -> str:
    """The (deterministic) name of the run's Job of that stage, for its current spec."""
    if stage == "tune":
        return naming.tune_job_name(tr.name, tr.generation)
    return naming.train_job_name(tr.name, tr.generation)


def stage_of(tr: TrainingRun, name: str | None) -> Stage | None:
    """Which of the run's Jobs for its current spec `name` is, if it is one."""
    stages: tuple[Stage, ...] = ("tune", "train") if shards(tr) > 1 else ("train",)
    return next((stage for stage in stages if name == job_name(tr, stage)), None)


def following(tr: TrainingRun) -> Stage | None:
    """The stage whose Job the run is following, or None when it has not started one for its spec."""
    status = tr.status
    if status.phase != "Running" or not status.dataset_version:
        return None
    return stage_of(tr, status.job_name)


def is_finished(tr: TrainingRun) -> bool:
    """Trained (or failed) for its current spec: nothing more to do (the CRD freezes the spec from here)."""
    return tr.status.phase in TERMINAL_PHASES and tr.status.observed_generation == tr.generation


def wait_for_data(
    tr: TrainingRun, dataset: Dataset | None, now: dt.datetime
) -> tuple[Plan[TrainingRunStatus], str | None]:
    """(plan, dataset version to train on). No version: wait, with the reason in a condition."""
    plan = Plan(tr.status)
    name = tr.spec.dataset_ref.name
    if dataset is None:
        reason, message = "DatasetNotFound", f"Dataset {name} does not exist"
    elif dataset.status.phase != "Ready" or not dataset.status.version:
        reason = "DatasetFailed" if dataset.status.phase == "Failed" else "DatasetNotReady"
        message = f"Dataset {name} is {dataset.status.phase or 'Pending'}"
    else:
        return plan, tr.status.dataset_version or tr.spec.dataset_ref.version or dataset.status.version
    transition(
        plan,
        Transition("WaitingForData", reason, message, reconciling=True, extra=[(DATA_READY, False, reason, message)]),
        generation=tr.generation,
        now=now,
    )
    return plan, None


def start(tr: TrainingRun, dataset_version: str, now: dt.datetime) -> Plan[TrainingRunStatus]:
    """Pin the dataset version and create the first Job: `tune` when the trials run in several pods."""
    dataset = f"{tr.spec.dataset_ref.name}@{dataset_version}"
    stage: Stage = "tune" if shards(tr) > 1 else "train"
    name = job_name(tr, stage)
    total = tr.spec.tuning.trial_count() if tr.spec.tuning else None
    plan = Plan(
        tr.status.model_copy(
            update={
                "job_name": name,
                "dataset_version": dataset_version,
                "start_time": tr.status.start_time or now_iso(now),
                "trials": Trials(done=0, total=total) if total is not None else None,
            }
        ),
        create_job=JobRun(tr.generation, 0),
    )
    if stage == "tune":
        reason, message = "Tuning", f"Job {name} runs {total} trials in {shards(tr)} pods on {dataset}"
    else:
        reason, message = "Training", f"Job {name} is training on {dataset}"
    data_ready = (DATA_READY, True, "DatasetReady", dataset)
    to = Transition("Running", reason, message, reconciling=True, extra=[data_ready])
    transition(plan, to, generation=tr.generation, now=now, before=tr.status)
    return plan


def _gone_or_failed(tr: TrainingRun, outcome: JobOutcome, now: dt.datetime) -> Plan[TrainingRunStatus] | None:
    """A Job deleted by hand is made again; a failed one fails the run. None for any other outcome."""
    before = tr.status
    plan = Plan(before)
    if outcome.state == "absent":
        plan.create_job = JobRun(tr.generation, 0)
        return plan
    if outcome.state != "failed":
        return None
    reason, message = outcome.failure()
    plan.status = before.model_copy(update={"completion_time": now_iso(now), "failures": (before.failures or 0) + 1})
    transition(
        plan, Transition("Failed", reason, message, stalled=True), generation=tr.generation, now=now, before=before
    )
    return plan


def follow_tuning(tr: TrainingRun, outcome: JobOutcome, now: dt.datetime) -> Plan[TrainingRunStatus]:
    """While the tune Job runs, the trials its finished pods scored; once it succeeded, the train Job."""
    before = tr.status
    plan = Plan(before)
    tuning = tr.spec.tuning
    assert tuning is not None  # only runs with a search have a tune Job
    total, pods = tuning.trial_count(), shards(tr)
    if (ended := _gone_or_failed(tr, outcome, now)) is not None:
        return ended
    if outcome.state == "running":
        done = trials_done(outcome.completed_indexes, pods, total)
        plan.status = before.model_copy(update={"trials": Trials(done=done, total=total)})
        reason, message = "Tuning", f"Job {before.job_name}: {done} of {total} trials done in {pods} pods"
    else:
        train = job_name(tr, "train")
        plan.status = before.model_copy(update={"job_name": train, "trials": Trials(done=total, total=total)})
        plan.create_job = JobRun(tr.generation, 0)
        reason, message = "Training", f"Job {train} picks the best of {total} trials, refits and saves the model"
    transition(
        plan, Transition("Running", reason, message, reconciling=True), generation=tr.generation, now=now, before=before
    )
    return plan


def score(tr: TrainingRun, task: str, metrics: dict[str, float]) -> str | None:
    """The objective metric, formatted for the printer column."""
    objective = tr.spec.tuning.objective if tr.spec.tuning else None
    metric = objective.metric if objective else DEFAULT_OBJECTIVE.get(task)
    if metric and metric in metrics:
        return f"{metric}={metrics[metric]:.4f}"
    return None


def follow(tr: TrainingRun, outcome: JobOutcome, now: dt.datetime, image: str) -> Plan[TrainingRunStatus]:
    """Status once the train Job has an outcome; unchanged while it runs."""
    before = tr.status
    plan = Plan(before)
    if outcome.state == "running":
        return plan
    if (ended := _gone_or_failed(tr, outcome, now)) is not None:
        return ended
    plan.status = before.model_copy(update={"completion_time": now_iso(now)})
    result = outcome.result(TrainResult)
    if result is None:
        message = f"Job {before.job_name} succeeded but its termination message is not a training result"
        transition(
            plan,
            Transition("Failed", "ResultUnreadable", message, stalled=True),
            generation=tr.generation,
            now=now,
            before=before,
        )
        return plan
    printed = score(tr, result.task, dict(result.metrics))
    plan.status = plan.status.model_copy(
        update={
            "metrics": {"test": dict(result.metrics), **({"sample": dict(result.sample)} if result.sample else {})},
            "score": printed,
            "best_hyperparameters": dict(result.best_hyperparameters) or None,
            "trials": Trials(done=result.trials, total=result.trials),
            "model": TrainedModel(
                uri=result.uri, version=result.version, sha256=result.sha256, formats=list(result.formats)
            ),
            "lineage": Lineage(
                dataset=f"{tr.spec.dataset_ref.name}@{before.dataset_version or ''}",
                image=image,
                code_version=result.code_version,
            ),
            "reasons": list(result.reasons) or None,
        }
    )
    if result.passed:
        to = Transition(
            "Succeeded", "Trained", f"model {result.version} passed its gates ({printed or 'no score'})", ready=True
        )
    else:
        to = Transition("Rejected", "GatesFailed", "; ".join(result.reasons) or "validation gates failed", stalled=True)
    transition(plan, to, generation=tr.generation, now=now, before=before)
    return plan
