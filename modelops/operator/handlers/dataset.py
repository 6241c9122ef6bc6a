"""Dataset: run the prepare Job, follow it, record the version; again on every refreshInterval."""

from __future__ import annotations

import kopf

from modelops.api.objects import Dataset
from modelops.operator import naming
from modelops.operator.builders.jobs import prepare_job
from modelops.operator.decisions import dataset as decide
from modelops.operator.handlers.context import Context, register_kind
from modelops.operator.handlers.jobs import count_finished, ensure_job, read_job
from modelops.operator.kube import DATASETS
from modelops.operator.status import RECONCILING, condition_is


def reconcile(ctx: Context, ds: Dataset) -> None:
    now = ctx.clock()
    run = decide.next_run(ds, now)
    if run is not None:
        ensure_job(ctx.kube, prepare_job(ds, run, ctx.settings), "prepare")
        ctx.write(DATASETS, ds, decide.start(ds, run, naming.prepare_job_name(ds.name, run), now))
        return
    if not condition_is(ds.status.conditions, RECONCILING) or ds.status.job_name is None:
        return
    outcome = read_job(ctx.kube, ds.namespace, ds.status.job_name)
    plan = decide.follow(ds, outcome, now)
    if plan.create_job is not None:
        ensure_job(ctx.kube, prepare_job(ds, plan.create_job, ctx.settings), "prepare")
    if plan.status != ds.status:
        count_finished("prepare", outcome)
    ctx.write(DATASETS, ds, plan)


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    register_kind(registry, ctx, DATASETS, reconcile)
