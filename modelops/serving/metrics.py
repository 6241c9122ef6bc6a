"""Prometheus metrics of the model server (`GET /metrics`); the names are an API.

The HPA (through prometheus-adapter) and the operator's monitor read these, so
renaming one is a breaking change. Every name, type and label is listed in
`modelops/serving/README.md`.

One registry per server instance (not the process-global one), so tests can
build several apps in one process. Run one server process per pod and scale
with replicas: there is no multiprocess mode (Prometheus sums across pods).

Drift and live-quality gauges are computed at scrape time from the windows the
request path fills (see `drift` and `feedback`), at most once per
`stats_cache_seconds`, and are absent until their window holds enough rows.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from modelops.api.modeldeployment import PerformanceMonitoring
from modelops.contract.monitoring import is_worse, live_series
from modelops.serving.drift import DriftMonitor, DriftReport
from modelops.serving.feedback import LiveQuality

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# `route` labels of the predictions (REST templates; gRPC's full method name, as HTTP/2 carries it).
INFER_ROUTE = "/v2/models/{name}/infer"
INFER_VERSION_ROUTE = "/v2/models/{name}/versions/{version}/infer"
PREDICT_ROUTE = "/predict"
GRPC_INFER_ROUTE = "/inference.GRPCInferenceService/ModelInfer"
PREDICTION_ROUTES = frozenset({INFER_ROUTE, INFER_VERSION_ROUTE, PREDICT_ROUTE, GRPC_INFER_ROUTE})

# Sub-millisecond resolution: a single-row ONNX prediction is well under 1 ms.
LATENCY_BUCKETS = (
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


class _CachedStatistics(Collector):
    """Computes the drift and live-quality gauges when scraped, at most once per `ttl` seconds."""

    def __init__(
        self,
        drift: DriftMonitor,
        quality: LiveQuality,
        *,
        ttl: float,
        drift_min_rows: int,
        feedback_min_samples: int,
        performance: PerformanceMonitoring | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.drift = drift
        self.quality = quality
        self.performance = performance
        self.ttl = ttl
        self.drift_min_rows = drift_min_rows
        self.feedback_min_samples = feedback_min_samples
        self._clock = clock
        self._computed_at = -float("inf")
        self._families: list[Metric] = []

    def describe(self) -> list[Metric]:
        # Nothing to check for collisions at registration; the names are fixed and unique.
        return []

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        if now - self._computed_at >= self.ttl:
            self._families = self._compute()
            self._computed_at = now
        yield from self._families

    def _compute(self) -> list[Metric]:
        families: list[Metric] = []
        window = GaugeMetricFamily("modelops_drift_window_rows", "Rows in the sliding drift window.")
        window.add_metric([], self.drift.rows)
        families.append(window)
        threshold = GaugeMetricFamily(
            "modelops_drift_threshold", "monitoring.drift.threshold: a feature over it has drifted.", labels=["method"]
        )
        threshold.add_metric([self.drift.method], self.drift.threshold)
        families.append(threshold)
        if self.drift.rows >= self.drift_min_rows:
            families.extend(_drift_families(self.drift.report()))
        samples = GaugeMetricFamily(
            "modelops_live_feedback_samples", "Labelled predictions in the live-quality window."
        )
        samples.add_metric([], self.quality.samples)
        families.append(samples)
        if self.quality.samples >= self.feedback_min_samples:
            live = self.quality.metrics()
            for name, value in live.items():
                family = GaugeMetricFamily(
                    live_series(name), f"Live {name} over the feedback window (from /feedback labels)."
                )
                family.add_metric([], value)
                families.append(family)
            performance = self.performance
            if performance is not None and performance.metric in live:
                degraded = GaugeMetricFamily(
                    "modelops_live_degraded",
                    "1 when the live monitoring.performance.metric is worse than monitoring.performance.min.",
                    labels=["metric"],
                )
                worse = is_worse(performance.metric, live[performance.metric], performance.min)
                degraded.add_metric([performance.metric], 1 if worse else 0)
                families.append(degraded)
        return families


def _drift_families(report: DriftReport) -> list[Metric]:
    psi = GaugeMetricFamily(
        "modelops_drift_psi",
        "Population stability index of a feature, window vs training.",
        labels=["feature"],
    )
    ks = GaugeMetricFamily(
        "modelops_drift_ks_statistic",
        "KS statistic of a numeric feature, window vs training.",
        labels=["feature"],
    )
    ks_p = GaugeMetricFamily(
        "modelops_drift_ks_pvalue",
        "KS test p-value of a numeric feature, window vs training.",
        labels=["feature"],
    )
    for feature in report.features:
        psi.add_metric([feature.feature], feature.psi)
        if feature.ks_statistic is not None and feature.ks_pvalue is not None:
            ks.add_metric([feature.feature], feature.ks_statistic)
            ks_p.add_metric([feature.feature], feature.ks_pvalue)
    score = GaugeMetricFamily(
        "modelops_drift_score",
        "Overall drift: the largest per-feature value of the method.",
        labels=["method"],
    )
    drifted = GaugeMetricFamily(
        "modelops_drift_features_drifted",
        "Features whose statistic of the configured method is over monitoring.drift.threshold.",
        labels=["method"],
    )
    score.add_metric(["psi"], report.psi_score)
    if report.ks_score is not None:
        score.add_metric(["ks"], report.ks_score)
    drifted.add_metric([report.method], len(report.drifted))
    return [psi, ks, ks_p, score, drifted]


class _Buckets:
    """A histogram's counts on the request path: one bisect and two additions per value."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # last: above every bound (+Inf)
        self.total = 0.0

    def observe(self, value: float) -> None:
        # Prometheus buckets are "less than or equal": the first bound >= value.
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        running = 0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip((*map(floatToGoString, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets


class _RequestPath(Collector):
    """Exports what the request path counted, as prometheus-client metric families."""

    def __init__(self, metrics: ServingMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        requests = CounterMetricFamily(
            "modelops_requests", "HTTP requests answered.", labels=["route", "method", "code"]
        )
        for (route, method, code), count in list(m.request_counts.items()):
            requests.add_metric([route, method, str(code)], count)
        yield requests
        latency = HistogramMetricFamily(
            "modelops_request_duration_seconds", "Time from request start to response end.", labels=["route"]
        )
        for route, buckets in list(m.latency.items()):
            latency.add_metric([route], buckets.cumulative(), buckets.total)
        yield latency
        predictions = CounterMetricFamily(
            "modelops_predictions", "Predicted rows by predicted class.", labels=["class"]
        )
        for label, count in list(m.prediction_counts.items()):
            predictions.add_metric([str(label)], count)
        yield predictions
        batch = HistogramMetricFamily("modelops_batch_size_rows", "Rows per prediction request.")
        batch.add_metric([], m.batch_rows.cumulative(), m.batch_rows.total)
        yield batch


class ServingMetrics:
    """The server's metrics and the cheap recording calls the request path makes.

    The request path counts into plain ints and lists, exported at scrape time by
    `_RequestPath`: prometheus-client's own Counter/Histogram take a lock per
    sample (about 4 us per request here, a fifth of a single-row ONNX prediction),
    and this server records only from its one event-loop thread.
    """

    def __init__(self) -> None:
        # `*_created` series double the exposition and nobody here reads them (process-wide switch).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.request_counts: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, _Buckets] = {}
        self.prediction_counts: dict[Any, int] = {}
        self.batch_rows = _Buckets(BATCH_BUCKETS)
        self.in_flight = 0
        self.model_calls = 0  # micro-batches predicted (one model call each)
        self.last_prediction = 0.0  # epoch seconds of the last model call
        # Prediction requests by outcome (2xx or not): [count, seconds]; what the statistics extension reports.
        self._outcomes = {True: [0, 0.0], False: [0, 0.0]}
        self._regression = False
        registry.register(_RequestPath(self))
        in_flight = Gauge("modelops_requests_in_flight", "Requests being handled.", registry=registry)
        in_flight.set_function(lambda: self.in_flight)
        self.model_info = Gauge(
            "modelops_model_info",
            "The model version served (value 1).",
            ["model", "version", "runtime", "task", "algorithm"],
            registry=registry,
        )
        self.model_ready = Gauge("modelops_model_ready", "1 once the model is loaded and warm.", registry=registry)
        self.load_seconds = Gauge(
            "modelops_model_load_duration_seconds",
            "Time to load, verify and warm up the model.",
            registry=registry,
        )
        self.feedback = Counter(
            "modelops_feedback",
            "Feedback items by outcome (accepted / ignored).",
            ["outcome"],
            registry=registry,
        )
        self._statistics: _CachedStatistics | None = None

    # -- request path ----------------------------------------------------------------------

    def record_request(self, route: str, method: str, code: int, seconds: float) -> None:
        key = (route, method, code)
        counts = self.request_counts
        counts[key] = counts.get(key, 0) + 1
        buckets = self.latency.get(route)
        if buckets is None:
            buckets = self.latency[route] = _Buckets(LATENCY_BUCKETS)
        buckets.observe(seconds)
        if route in PREDICTION_ROUTES:
            outcome = self._outcomes[200 <= code < 300]
            outcome[0] += 1
            outcome[1] += seconds

    def inference_outcomes(self) -> tuple[tuple[int, float], tuple[int, float]]:
        """(count, seconds) of prediction requests answered 2xx, and of the others."""
        ok, failed = self._outcomes[True], self._outcomes[False]
        return (int(ok[0]), float(ok[1])), (int(failed[0]), float(failed[1]))

    def predicted_rows(self) -> int:
        """Rows predicted so far: the sum of `modelops_predictions_total`."""
        return sum(self.prediction_counts.values())

    def record_rows(self, rows: int) -> None:
        """One prediction request of `rows` rows."""
        self.batch_rows.observe(rows)

    def count_predictions(self, values: npt.NDArray[Any]) -> None:
        """Count predicted rows by class (regression: one series with class="")."""
        counts = self.prediction_counts
        rows = values.shape[0]
        self.model_calls += 1
        self.last_prediction = time.time()
        if self._regression:
            counts[""] = counts.get("", 0) + rows
        elif rows == 1:
            label = values[0]
            counts[label] = counts.get(label, 0) + 1
        else:
            for label in values.tolist():
                counts[label] = counts.get(label, 0) + 1

    # -- model and statistics -------------------------------------------------------------

    def set_model(
        self,
        *,
        name: str,
        version: str,
        runtime: str,
        task: str,
        algorithm: str,
        classes: Sequence[Any] | None,
        load_seconds: float,
    ) -> None:
        self.model_info.labels(name, version, runtime, task, algorithm).set(1)
        self.load_seconds.set(load_seconds)
        self._regression = task == "regression"
        for label in classes or ():
            # Every class is exported from the start, so a class never predicted reads 0, not absent.
            self.prediction_counts.setdefault(label, 0)
        self.model_ready.set(1)

    def attach_statistics(
        self,
        drift: DriftMonitor,
        quality: LiveQuality,
        *,
        ttl: float,
        drift_min_rows: int,
        feedback_min_samples: int,
        performance: PerformanceMonitoring | None,
    ) -> None:
        if self._statistics is not None:
            self.registry.unregister(self._statistics)
        self._statistics = _CachedStatistics(
            drift,
            quality,
            ttl=ttl,
            drift_min_rows=drift_min_rows,
            feedback_min_samples=feedback_min_samples,
            performance=performance,
        )
        self.registry.register(self._statistics)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
