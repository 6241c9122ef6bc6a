"""The closed loop of a ModelDeployment: what its serving metrics say, and whether to retrain or roll back.

The serving pods export drift and live quality (modelops/serving/metrics.py); the operator reads
them every `monitoring.interval` and, under the retraining policy, starts a TrainingRun from the
template. "Drifted" and "worse" are the contract's definitions (`modelops.contract.monitoring`),
the same the server applies. The decisions are here, the I/O in the handler.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, get_args

from croniter import croniter
from prometheus_client.parser import text_string_to_metric_families

from modelops.api.common import ModelVersion
from modelops.api.modeldeployment import MonitoringStatus
from modelops.api.objects import ModelDeployment
from modelops.contract.metrics import REQUESTS_TOTAL
from modelops.contract.monitoring import (
    DRIFT_SCORE,
    FEATURE_STATISTIC,
    LIVE_PREFIX,
    LiveMetric,
    is_drifted,
    is_worse,
    live_series,
)
from modelops.operator.clock import now_iso, parse_duration, parse_time

Trigger = Literal["drift", "degradation", "schedule"]
_LIVE_SERIES = frozenset(live_series(metric) for metric in get_args(LiveMetric))


@dataclass(frozen=True)
class Observation:
    """What the serving metrics said at one read; absent series stay None (too few rows yet)."""

    drift_score: float | None = None
    drifted_features: list[str] = field(default_factory=list)
    live: dict[str, float] = field(default_factory=dict)
    requests: int | None = None

    def status(self) -> MonitoringStatus:
        """The ModelDeployment's `status.monitoring`."""
        return MonitoringStatus(
            drift_score=round(self.drift_score, 6) if self.drift_score is not None else None,
            drifted_features=self.drifted_features,
            live_accuracy=round(self.live["accuracy"], 6) if "accuracy" in self.live else None,
            requests=self.requests,
        )


@dataclass(frozen=True)
class Retrain:
    """Start a retraining now, and why."""

    trigger: Trigger
    reason: str


def parse_metrics(text: str, md: ModelDeployment) -> Observation:
    """An Observation from Prometheus text exposition, judged by the spec's drift method and threshold."""
    drift_spec = md.spec.monitoring.drift if md.spec.monitoring and md.spec.monitoring.drift else None
    method = drift_spec.method if drift_spec else "psi"
    per_feature = FEATURE_STATISTIC[method]
    drift: float | None = None
    drifted: list[str] = []
    live: dict[str, float] = {}
    requests: int | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == DRIFT_SCORE and sample.labels.get("method") == method:
                drift = float(sample.value)
            elif sample.name == per_feature and drift_spec and is_drifted(sample.value, drift_spec.threshold):
                drifted.append(sample.labels.get("feature", "?"))
            elif sample.name in _LIVE_SERIES:
                live[sample.name.removeprefix(LIVE_PREFIX)] = float(sample.value)
            elif sample.name == REQUESTS_TOTAL:
                requests = (requests or 0) + int(sample.value)
    return Observation(drift, sorted(drifted), live, requests)


def _cooling_down(md: ModelDeployment, last: dt.datetime | None, now: dt.datetime) -> bool:
    retraining = md.spec.retraining
    return retraining is not None and last is not None and now - last < parse_duration(retraining.cooldown)


def retrain_on_metrics(
    md: ModelDeployment, observed: Observation, last_trigger: str | None, now: dt.datetime
) -> Retrain | None:
    """Retrain under an OnDrift / OnDegradation policy when the metrics cross the spec's bounds."""
    retraining, monitoring = md.spec.retraining, md.spec.monitoring
    if retraining is None or monitoring is None or _cooling_down(md, parse_time(last_trigger), now):
        return None
    drift = monitoring.drift
    if retraining.policy == "OnDrift" and drift is not None and observed.drift_score is not None:
        if is_drifted(observed.drift_score, drift.threshold):
            features = ", ".join(observed.drifted_features) or "none over the threshold alone"
            return Retrain(
                "drift", f"drift {drift.method}={observed.drift_score:.3f} > {drift.threshold} (features: {features})"
            )
    performance = monitoring.performance
    if retraining.policy == "OnDegradation" and performance is not None:
        value = observed.live.get(performance.metric)
        if value is not None and is_worse(performance.metric, value, performance.min):
            return Retrain("degradation", f"live {performance.metric}={value:.3f} worse than {performance.min}")
    return None


def retrain_on_schedule(md: ModelDeployment, last_trigger: str | None, now: dt.datetime) -> Retrain | None:
    """Retrain under a `Schedule` policy when a cron tick (UTC) has passed since the last trigger.

    Before the first trigger, ticks count from the ModelDeployment's creation. Ticks missed while
    the operator was down collapse into one retraining; the cooldown still applies.
    """
    retraining = md.spec.retraining
    if retraining is None or retraining.policy != "Schedule" or retraining.schedule is None:
        return None
    last = parse_time(last_trigger)
    since = last or parse_time(md.metadata.creation_timestamp)
    if since is None or _cooling_down(md, last, now):
        return None
    tick: dt.datetime = croniter(retraining.schedule, since).get_next(dt.datetime)
    if tick > now:
        return None
    return Retrain("schedule", f"schedule {retraining.schedule!r}: due at {now_iso(tick)}")


def rollback(md: ModelDeployment, observed: Observation) -> tuple[str, ModelVersion] | None:
    """(why, the model to put back) when the promoted retrained model does worse, else None.

    Worse means its live metric is worse than `monitoring.performance.min` or than the live value
    of the model it replaced (`status.retraining.baseline`). Decided once per run:
    `status.retraining.rolledBack` records it, so a restart does not decide it again.
    """
    spec, status = md.spec, md.status
    performance = spec.monitoring.performance if spec.monitoring else None
    current = status.retraining
    if spec.retraining is None or not spec.retraining.rollback or performance is None or current is None:
        return None
    run = current.run
    if run is None or current.rolled_back or status.model is None or status.model.run != run:
        return None
    value = observed.live.get(performance.metric)
    previous = [entry for entry in status.history or [] if entry.run != run]
    if value is None or not previous:
        return None
    metric = performance.metric
    if is_worse(metric, value, performance.min):
        why = f"live {metric}={value:.3f} of {run} is worse than the minimum {performance.min}"
    elif current.baseline is not None and is_worse(metric, value, current.baseline):
        why = f"live {metric}={value:.3f} of {run} is worse than {current.baseline:.3f} before it"
    else:
        return None
    restored = previous[-1]
    return why, ModelVersion(uri=restored.uri, version=restored.version, run=restored.run)
