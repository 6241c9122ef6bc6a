"""Reading a served model's metrics, and retraining or rolling back under the ModelDeployment's policy."""

from __future__ import annotations

import datetime as dt
import logging

from croniter import croniter

from modelops.api.modeldeployment import ModelDeploymentStatus, RetrainingStatus
from modelops.api.objects import ModelDeployment, TrainingRun
from modelops.operator import metrics, naming
from modelops.operator.builders.trainingrun import RETRAIN_OF, retraining_run, retraining_run_name
from modelops.operator.clock import now_iso, parse_duration
from modelops.operator.decisions.retraining import (
    Observation,
    Retrain,
    retrain_on_metrics,
    retrain_on_schedule,
    rollback,
)
from modelops.operator.handlers.context import Context
from modelops.operator.kube import TRAINING_RUNS
from modelops.operator.status import Plan

log = logging.getLogger("modelops.operator")


def _observe(ctx: Context, md: ModelDeployment) -> Observation | None:
    """The serving metrics, at most once per `monitoring.interval`; None when not due or unreachable."""
    monitoring = md.spec.monitoring
    if monitoring is None or not ctx.reads.due(md.metadata.uid, parse_duration(monitoring.interval).total_seconds()):
        return None
    return ctx.metrics_source.observe(md)


def _start_retraining(
    ctx: Context, md: ModelDeployment, due: Retrain, observed: Observation | None
) -> RetrainingStatus | None:
    """Create the retraining TrainingRun (unless one was made moments ago, before a restart)."""
    started_by = naming.bounded(md.name)
    runs = [
        r
        for r in ctx.cache.items(TRAINING_RUNS.plural, TrainingRun, namespace=md.namespace)
        if r.metadata.labels.get(RETRAIN_OF) == started_by
    ]
    # A run created just before a restart, before its status write, still counts for the cooldown.
    newest = max((r.metadata.creation_timestamp or "" for r in runs), default=None)
    now = ctx.clock()
    if newest is not None and _retrain_due(md, observed, newest, now) is None:
        return None
    name = retraining_run_name(md, len(runs) + 1)
    ctx.create(retraining_run(md, name=name, reason=due.reason))
    performance = md.spec.monitoring.performance if md.spec.monitoring else None
    baseline = observed.live.get(performance.metric) if observed is not None and performance is not None else None
    metrics.RETRAININGS.labels(namespace=md.namespace, modeldeployment=md.name, trigger=due.trigger).inc()
    return RetrainingStatus(last_trigger=now_iso(now), reason=due.reason, run=name, baseline=baseline)


def _retrain_due(
    md: ModelDeployment, observed: Observation | None, last: str | None, now: dt.datetime
) -> Retrain | None:
    """Why to retrain now, judged from the metrics when there are some, else from the schedule alone."""
    if observed is not None and (due := retrain_on_metrics(md, observed, last, now)):
        return due
    return retrain_on_schedule(md, last, now)


def next_look(md: ModelDeployment, now: dt.datetime) -> float | None:
    """Seconds until this ModelDeployment's metrics are due to be read, or its schedule to tick."""
    waits: list[float] = []
    if md.spec.monitoring is not None:
        waits.append(parse_duration(md.spec.monitoring.interval).total_seconds())
    retraining = md.spec.retraining
    if retraining is not None and retraining.policy == "Schedule" and retraining.schedule is not None:
        tick: dt.datetime = croniter(retraining.schedule, now).get_next(dt.datetime)
        waits.append((tick - now).total_seconds())
    return min(waits) if waits else None


def monitor(ctx: Context, md: ModelDeployment, plan: Plan[ModelDeploymentStatus]) -> None:
    """Fill `status.monitoring`; roll back, or start a TrainingRun from the template, when the policy says so.

    `md` carries the status decided so far (`plan.status`); only a Ready ModelDeployment is judged.
    A `Schedule` policy needs no metrics: it is decided from the status alone.
    """
    status = plan.status
    if status.phase != "Ready":
        return
    observed = _observe(ctx, md)
    retraining = status.retraining
    if observed is not None:
        status = status.model_copy(update={"monitoring": observed.status()})
        if taken_back := rollback(md, observed):
            why, restored = taken_back
            assert retraining is not None  # rollback() decides only on a run it started
            status = status.model_copy(
                update={"retraining": retraining.model_copy(update={"rolled_back": True, "restored": restored})}
            )
            plan.note("Warning", "RolledBack", f"back to model {restored.version}: {why}")
            metrics.ROLLBACKS.labels(namespace=md.namespace, modeldeployment=md.name).inc()
            plan.status = status
            return
    last = retraining.last_trigger if retraining else None
    due = _retrain_due(md, observed, last, ctx.clock())
    if due is not None and (started := _start_retraining(ctx, md, due, observed)) is not None:
        status = status.model_copy(update={"retraining": started})
        plan.note(
            "Normal" if due.trigger == "schedule" else "Warning",
            "Retraining",
            f"started TrainingRun {started.run}: {due.reason}",
        )
    plan.status = status
