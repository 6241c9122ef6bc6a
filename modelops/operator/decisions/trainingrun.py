"""TrainingRun: wait for data, pin the version, follow the train Job, record the model and the gates."""

from __future__ import annotations

import datetime as dt

from modelops.api.objects import Dataset, TrainingRun
from modelops.api.trainingrun import Lineage, TrainedModel, TrainingRunStatus
from modelops.contract.jobs import TrainResult
from modelops.operator.clock import now_iso
from modelops.operator.jobstate import JobOutcome
from modelops.operator.naming import JobRun
from modelops.operator.status import Plan, Transition, transition

TERMINAL_PHASES = ("Succeeded", "Failed", "Rejected")
DATA_READY = "DataReady"
DEFAULT_OBJECTIVE = {"classification": "accuracy", "regression": "r2", "clustering": "silhouette"}


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


def start(tr: TrainingRun, dataset_version: str, job_name: str, now: dt.datetime) -> Plan[TrainingRunStatus]:
    dataset = tr.spec.dataset_ref.name
    plan = Plan(
        tr.status.model_copy(
            update={
                "job_name": job_name,
                "dataset_version": dataset_version,
                "start_time": tr.status.start_time or now_iso(now),
            }
        ),
        create_job=JobRun(tr.generation, 0),
    )
    transition(
        plan,
        Transition(
            "Running",
            "Training",
            f"Job {job_name} is training on {dataset}@{dataset_version}",
            reconciling=True,
            extra=[(DATA_READY, True, "DatasetReady", f"{dataset}@{dataset_version}")],
        ),
        generation=tr.generation,
        now=now,
        before=tr.status,
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
    if outcome.state == "absent":
        plan.create_job = JobRun(tr.generation, 0)
        return plan
    plan.status = before.model_copy(update={"completion_time": now_iso(now)})
    if outcome.state == "failed":
        reason, message = outcome.failure()
        plan.status = plan.status.model_copy(update={"failures": (before.failures or 0) + 1})
        transition(
            plan, Transition("Failed", reason, message, stalled=True), generation=tr.generation, now=now, before=before
        )
        return plan
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
            "trials": result.trials,
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
