"""Dataset: run the prepare Job, follow it, record the version; again on every refreshInterval."""

from __future__ import annotations

import kopf

from modelops.operator import decisions, naming
from modelops.operator.builders.jobs import prepare_job
from modelops.operator.conditions import is_true
from modelops.operator.handlers.context import Context, Manifest, register_kind
from modelops.operator.handlers.jobs import ensure_job, read_job
from modelops.operator.kube import DATASETS


def reconcile(ctx: Context, obj: Manifest) -> None:
    now = ctx.clock()
    meta = obj["metadata"]
    run = decisions.dataset_next_run(obj, now)
    if run is not None:
        job_name = naming.prepare_job_name(meta["name"], *run)
        ensure_job(ctx.kube, prepare_job(obj, generation=run[0], run=run[1], settings=ctx.settings), "prepare")
        ctx.write(DATASETS, obj, decisions.dataset_start(obj, run, job_name, now))
        return
    status = obj.get("status") or {}
    if not is_true(status.get("conditions"), decisions.PROGRESSING):
        return
    outcome = read_job(ctx.kube, meta["namespace"], status["jobName"])
    plan = decisions.dataset_follow(obj, outcome, now)
    if plan.create_job is not None:
        generation, number = plan.create_job
        ensure_job(ctx.kube, prepare_job(obj, generation=generation, run=number, settings=ctx.settings), "prepare")
    ctx.write(DATASETS, obj, plan)


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    register_kind(registry, ctx, DATASETS, "Dataset", reconcile)
