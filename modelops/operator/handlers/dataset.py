"""Dataset: run the prepare Job, follow it, record the version; again on every refreshInterval."""

from __future__ import annotations

from modelops.api.objects import Dataset
from modelops.operator import naming
from modelops.operator.builders.jobs import prepare_job
from modelops.operator.clock import parse_duration, parse_time
from modelops.operator.decisions import dataset as decide
from modelops.operator.handlers.context import Context
from modelops.operator.handlers.jobs import count_finished, ensure_job, read_job
from modelops.operator.kube import DATASETS
from modelops.operator.status import RECONCILING, condition_is


def reconcile(ctx: Context, ds: Dataset) -> float | None:
    """Seconds until the next refresh is due, when there is one."""
    now = ctx.clock()
    run = decide.next_run(ds, now)
    if run is not None:
        ensure_job(ctx, prepare_job(ds, run, ctx.settings), "prepare")
        ds = ctx.write(DATASETS, ds, decide.start(ds, run, naming.prepare_job_name(ds.name, run), now))
    elif condition_is(ds.status.conditions, RECONCILING) and ds.status.job_name is not None:
        outcome = read_job(ctx, ds.namespace, ds.status.job_name)
        plan = decide.follow(ds, outcome, now)
        if plan.create_job is not None:
            ensure_job(ctx, prepare_job(ds, plan.create_job, ctx.settings), "prepare")
        if plan.status != ds.status:
            count_finished("prepare", outcome)
        ds = ctx.write(DATASETS, ds, plan)
    last = parse_time(ds.status.last_refresh_time)
    if ds.spec.refresh_interval is None or last is None:
        return None
    return max(0.0, (last + parse_duration(ds.spec.refresh_interval) - now).total_seconds())
