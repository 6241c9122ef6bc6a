"""The operator's own Prometheus metrics: reconciles by kind and result, and how long they take."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)
RECONCILES = Counter(
    "modelops_operator_reconciles", "Reconciles by kind and result.", ["kind", "result"], registry=REGISTRY
)
DURATION = Histogram(
    "modelops_operator_reconcile_duration_seconds",
    "Time spent in one reconcile.",
    ["kind"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CHILDREN_CREATED = Counter(
    "modelops_operator_jobs_created", "Jobs the operator created.", ["component"], registry=REGISTRY
)


@contextmanager
def observed(kind: str) -> Iterator[None]:
    """Count and time one reconcile; the result label is `ok` or the exception's class."""
    start = time.perf_counter()
    result = "ok"
    try:
        yield
    except BaseException as error:
        result = type(error).__name__
        raise
    finally:
        RECONCILES.labels(kind=kind, result=result).inc()
        DURATION.labels(kind=kind).observe(time.perf_counter() - start)


def serve(port: int) -> None:
    """Expose /metrics on `port` (0: not at all)."""
    if port:
        start_http_server(port, registry=REGISTRY)
