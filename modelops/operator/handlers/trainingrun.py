"""TrainingRun: wait for its Dataset, pin the version, run the train Job, record model and gates."""

from __future__ import annotations

from modelops.api.objects import TrainingRun
from modelops.operator import metrics, naming
from modelops.operator.builders.jobs import train_job
from modelops.operator.decisions import trainingrun as decide
from modelops.operator.handlers.context import Context
from modelops.operator.handlers.jobs import count_finished, ensure_job, read_job
from modelops.operator.kube import DATASETS, TRAINING_RUNS


def reconcile(ctx: Context, tr: TrainingRun) -> float | None:
    """Nothing is ever due later: the Job's and the Dataset's watch events wake it."""
    if decide.is_finished(tr):
        return None  # what was trained stays as it was (the CRD refuses spec changes from here on)
    now = ctx.clock()
    job_name = naming.train_job_name(tr.name, tr.generation)
    status = tr.status
    if status.phase == "Running" and status.job_name == job_name and status.dataset_version:
        outcome = read_job(ctx, tr.namespace, job_name)
        plan = decide.follow(tr, outcome, now, ctx.settings.image)
        if plan.create_job is not None:
            ensure_job(ctx, train_job(tr, status.dataset_version, ctx.settings), "train")
        ctx.write(TRAINING_RUNS, tr, plan)
        if plan.status.phase in decide.TERMINAL_PHASES:
            count_finished("train", outcome)
            result = str(plan.status.phase).lower()
            metrics.TRAINING_RUNS_FINISHED.labels(namespace=tr.namespace, result=result).inc()
        return None
    dataset = ctx.cache.get(DATASETS.plural, DATASETS.model, namespace=tr.namespace, name=tr.spec.dataset_ref.name)
    plan, version = decide.wait_for_data(tr, dataset, now)
    if version is not None:
        ensure_job(ctx, train_job(tr, version, ctx.settings), "train")
        plan = decide.start(tr, version, job_name, now)
    ctx.write(TRAINING_RUNS, tr, plan)
    return None
