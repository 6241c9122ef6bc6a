"""Following a Job: its state and the termination message of its newest pod."""

from __future__ import annotations

from modelops.operator import metrics
from modelops.operator.builders.common import Manifest
from modelops.operator.jobstate import JobOutcome, job_outcome
from modelops.operator.kube import JOBS, PODS, Kube


def read_job(kube: Kube, namespace: str, name: str) -> JobOutcome:
    job = kube.get(JOBS, namespace=namespace, name=name)
    if job is None:
        return job_outcome(None, [])
    pods = kube.list(PODS, namespace=namespace, label_selector=f"batch.kubernetes.io/job-name={name}")
    return job_outcome(job, pods)


def ensure_job(kube: Kube, manifest: Manifest, component: str) -> None:
    """Create the Job unless one of that (deterministic) name exists: a restart finds, not duplicates."""
    if kube.create_or_get(manifest):
        metrics.JOBS_CREATED.labels(component=component).inc()


def count_finished(component: str, outcome: JobOutcome) -> None:
    if outcome.state in ("succeeded", "failed"):
        metrics.JOBS_FINISHED.labels(component=component, result=outcome.state).inc()
