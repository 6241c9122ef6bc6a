"""The operator's own Prometheus metrics: one name per thing (the chart's alerts and dashboard read them)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import kopf
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)
RECONCILES = Counter(
    "modelops_operator_reconciles",
    "Reconciles by kind and result: ok, retry (a temporary error, retried later) or error.",
    ["kind", "result"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "modelops_operator_reconcile_duration_seconds",
    "Time spent in one reconcile.",
    ["kind"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS_CREATED = Counter(
    "modelops_operator_jobs_created", "Jobs the operator created, by component.", ["component"], registry=REGISTRY
)
JOBS_FINISHED = Counter(
    "modelops_operator_jobs_finished",
    "Jobs seen finished, by component and result (succeeded, failed).",
    ["component", "result"],
    registry=REGISTRY,
)
TRAINING_RUNS_FINISHED = Counter(
    "modelops_operator_trainingruns_finished",
    "TrainingRuns that ended, by result (succeeded, failed, rejected).",
    ["namespace", "result"],
    registry=REGISTRY,
)
RETRAININGS = Counter(
    "modelops_operator_retrainings",
    "Retrainings a ModelDeployment started, by trigger (drift, degradation, schedule).",
    ["namespace", "modeldeployment", "trigger"],
    registry=REGISTRY,
)
PROMOTIONS = Counter(
    "modelops_operator_promotions",
    "New model versions a ModelDeployment started serving.",
    ["namespace", "modeldeployment"],
    registry=REGISTRY,
)
ROLLBACKS = Counter(
    "modelops_operator_rollbacks",
    "Promoted models taken back because they did worse live.",
    ["namespace", "modeldeployment"],
    registry=REGISTRY,
)
READY = Gauge(
    "modelops_operator_ready",
    "1 when the object's Ready condition is True, else 0.",
    ["kind", "namespace", "name"],
    registry=REGISTRY,
)
Result = Literal["ok", "retry", "error"]


@contextmanager
def observed(kind: str) -> Iterator[None]:
    """Count and time one reconcile."""
    start = time.perf_counter()
    result: Result = "ok"
    try:
        yield
    except kopf.TemporaryError:
        result = "retry"
        raise
    except BaseException:
        result = "error"
        raise
    finally:
        RECONCILES.labels(kind=kind, result=result).inc()
        DURATION.labels(kind=kind).observe(time.perf_counter() - start)


def forget(kind: str, namespace: str, name: str) -> None:
    """Drop a deleted object's series."""
    try:
        READY.remove(kind, namespace, name)
    except KeyError:
        pass  # never reconciled


def serve(port: int) -> None:
    """Expose /metrics on `port` (0: not at all)."""
    if port:
        start_http_server(port, registry=REGISTRY)
