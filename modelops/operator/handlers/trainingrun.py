"""TrainingRun: wait for its Dataset, pin the version, run its Jobs (tune, then train), record model and gates."""

from __future__ import annotations

from collections.abc import Callable

from modelops.api.objects import TrainingRun
from modelops.api.trainingrun import TrainingRunStatus
from modelops.operator import metrics
from modelops.operator.builders.common import Manifest
from modelops.operator.builders.jobs import train_job, tune_job
from modelops.operator.decisions import trainingrun as decide
from modelops.operator.handlers.context import Context
from modelops.operator.handlers.jobs import count_finished, ensure_job, read_job
from modelops.operator.kube import DATASETS, TRAINING_RUNS
from modelops.operator.settings import OperatorSettings
from modelops.operator.status import Plan

JOBS: dict[decide.Stage, Callable[[TrainingRun, str, OperatorSettings], Manifest]] = {
    "tune": tune_job,
    "train": train_job,
}


def _ensure(ctx: Context, tr: TrainingRun, plan: Plan[TrainingRunStatus], dataset_version: str) -> None:
    """Create the Job the plan asks for: the one its status now follows."""
    stage = decide.stage_of(tr, plan.status.job_name)
    if plan.create_job is not None and stage is not None:
        ensure_job(ctx, JOBS[stage](tr, dataset_version, ctx.settings), stage)


def reconcile(ctx: Context, tr: TrainingRun) -> float | None:
    """Nothing is ever due later: the Jobs' and the Dataset's watch events wake it."""
    if decide.is_finished(tr):
        return None  # what was trained stays as it was (the CRD refuses spec changes from here on)
    now = ctx.clock()
    status = tr.status
    stage = decide.following(tr)
    if stage is not None and status.job_name and status.dataset_version:
        outcome = read_job(ctx, tr.namespace, status.job_name)
        if stage == "tune":
            plan = decide.follow_tuning(tr, outcome, now)
        else:
            plan = decide.follow(tr, outcome, now, ctx.settings.image)
        _ensure(ctx, tr, plan, status.dataset_version)
        ctx.write(TRAINING_RUNS, tr, plan)
        if stage == "tune" or plan.status.phase in decide.TERMINAL_PHASES:
            count_finished(stage, outcome)  # counts only a Job that ended
        if plan.status.phase in decide.TERMINAL_PHASES:
            result = str(plan.status.phase).lower()
            metrics.TRAINING_RUNS_FINISHED.labels(namespace=tr.namespace, result=result).inc()
        return None
    dataset = ctx.cache.get(DATASETS.plural, DATASETS.model, namespace=tr.namespace, name=tr.spec.dataset_ref.name)
    plan, version = decide.wait_for_data(tr, dataset, now)
    if version is not None:
        plan = decide.start(tr, version, now)
        _ensure(ctx, tr, plan, version)
    ctx.write(TRAINING_RUNS, tr, plan)
    return None
