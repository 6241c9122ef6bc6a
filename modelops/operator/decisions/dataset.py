"""Dataset: when to run a prepare Job, and what its outcome makes of the status."""

from __future__ import annotations

import datetime as dt

from modelops.api.dataset import DatasetStatus, DatasetVersion
from modelops.api.objects import Dataset
from modelops.contract.jobs import DatasetResult
from modelops.operator import naming
from modelops.operator.clock import now_iso, parse_duration, parse_time
from modelops.operator.jobstate import JobOutcome
from modelops.operator.naming import JobRun
from modelops.operator.status import RECONCILING, Plan, Transition, condition_is, set_condition, transition

# Versions listed in status at most (the retention setting may keep fewer).
VERSION_HISTORY = 20


def next_run(ds: Dataset, now: dt.datetime) -> JobRun | None:
    """The prepare Job to start now, or None while nothing is due."""
    status = ds.status
    current = naming.parse_prepare_job(status.job_name)
    if current is None or current.generation != ds.generation:
        return JobRun(ds.generation, 0)
    if condition_is(status.conditions, RECONCILING):
        return None  # a Job is in flight: follow it
    interval = parse_duration(ds.spec.refresh_interval) if ds.spec.refresh_interval else None
    last = parse_time(status.last_refresh_time)
    if interval and last and now - last >= interval:
        return JobRun(ds.generation, current.run + 1)
    return None


def start(ds: Dataset, run: JobRun, job_name: str, now: dt.datetime) -> Plan[DatasetStatus]:
    """Status for a prepare Job just created (or found, after a restart)."""
    before = ds.status
    plan = Plan(
        before.model_copy(update={"job_name": job_name, "last_refresh_time": now_iso(now)}),
        create_job=run,
    )
    if before.version and before.phase == "Ready":
        # A refresh: the current version stays usable meanwhile.
        message = f"Job {job_name} is refreshing the data"
        plan.status = plan.status.model_copy(
            update={
                "conditions": set_condition(
                    plan.status.conditions, RECONCILING, True, "Refreshing", message, generation=run.generation, now=now
                ),
                "observed_generation": run.generation,
            }
        )
        plan.note("Normal", "Refreshing", f"started Job {job_name}")
        return plan
    transition(
        plan,
        Transition("Running", "Preparing", f"Job {job_name} is preparing the data", reconciling=True),
        generation=run.generation,
        now=now,
    )
    return plan


def follow(ds: Dataset, outcome: JobOutcome, now: dt.datetime) -> Plan[DatasetStatus]:
    """Status once the in-flight prepare Job has an outcome; unchanged while it runs."""
    before = ds.status
    plan = Plan(before)
    if outcome.state == "running":
        return plan
    if outcome.state == "absent":
        plan.create_job = naming.parse_prepare_job(before.job_name)  # deleted by hand: make it again
        return plan
    job = before.job_name
    if outcome.state == "failed":
        reason, message = outcome.failure()
        plan.status = before.model_copy(update={"failures": (before.failures or 0) + 1})
        transition(plan, Transition("Failed", reason, message, stalled=True), generation=ds.generation, now=now)
        return plan
    result = outcome.result(DatasetResult)
    if result is None:
        message = f"Job {job} succeeded but its termination message is not a dataset result"
        transition(
            plan, Transition("Failed", "ResultUnreadable", message, stalled=True), generation=ds.generation, now=now
        )
        return plan
    versions = list(before.versions)
    changed = not versions or versions[-1].version != result.version
    if changed:
        versions.append(DatasetVersion(version=result.version, rows=result.rows, created=now_iso(now)))
    governance = ds.spec.governance
    keep = (
        min(governance.retention.keep_versions, VERSION_HISTORY)
        if governance and governance.retention
        else VERSION_HISTORY
    )
    plan.status = before.model_copy(
        update={
            "version": result.version,
            "versions": versions[-keep:],
            "rows": result.rows,
            "columns": result.columns,
            "artifact": result.artifact,
            "report": result.report,
            "profile": result.profile,
            "quality": dict(result.quality),
            "failures": 0,
        }
    )
    text = f"version {result.version}: {result.rows} rows, {result.columns} columns"
    transition(plan, Transition("Ready", "Prepared", text, ready=True), generation=ds.generation, now=now)
    if before.phase == "Ready":  # a refresh: say whether the content moved
        plan.note(
            "Normal",
            "Prepared" if changed else "Unchanged",
            text if changed else f"refresh found the same content ({result.version})",
        )
    return plan
