"""Following a Job: its state (from the watch cache) and, once it ended, its newest pod's termination message."""

from __future__ import annotations

from modelops.operator import metrics
from modelops.operator.builders.common import Manifest
from modelops.operator.handlers.context import Context
from modelops.operator.jobstate import JobOutcome, job_outcome
from modelops.operator.kube import JOBS, PODS


def read_job(ctx: Context, namespace: str, name: str) -> JobOutcome:
    job = ctx.cache.get(JOBS.plural, JOBS.model, namespace=namespace, name=name)
    if job is None or not (job.succeeded() or job.condition("Failed")):
        return job_outcome(job, [])
    # Only a finished Job's pods are read (not watched): their termination message is the result.
    pods = ctx.kube.list(PODS, namespace=namespace, label_selector=f"batch.kubernetes.io/job-name={name}")
    return job_outcome(job, pods)


def ensure_job(ctx: Context, manifest: Manifest, component: str) -> None:
    """Create the Job unless one of that (deterministic) name exists: a restart finds, not duplicates."""
    if ctx.cache.raw(JOBS.plural, namespace=manifest["metadata"]["namespace"], name=manifest["metadata"]["name"]):
        return
    if ctx.create(manifest):
        metrics.JOBS_CREATED.labels(component=component).inc()


def count_finished(component: str, outcome: JobOutcome) -> None:
    if outcome.state in ("succeeded", "failed"):
        metrics.JOBS_FINISHED.labels(component=component, result=outcome.state).inc()
