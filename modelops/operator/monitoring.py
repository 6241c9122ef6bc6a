"""Reading the serving metrics and deciding whether to retrain: pure functions over their text.

The serving pods export drift and live quality (modelops/serving/metrics.py); the operator
reads them through the Service every `monitoring.interval` and, under the retraining
policy, starts a TrainingRun from the template. The decision is here, the I/O in the handler.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from croniter import croniter
from prometheus_client.parser import text_string_to_metric_families

from modelops.operator.decisions import parse_duration

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Observation:
    drift_score: float | None = None
    drifted_features: list[str] = field(default_factory=list)
    live: dict[str, float] = field(default_factory=dict)
    requests: int | None = None

    def status(self) -> Manifest:
        """The ModelDeployment's `status.monitoring`."""
        out: Manifest = {"driftedFeatures": self.drifted_features}
        if self.drift_score is not None:
            out["driftScore"] = round(self.drift_score, 6)
        if "accuracy" in self.live:
            out["liveAccuracy"] = round(self.live["accuracy"], 6)
        if self.requests is not None:
            out["requests"] = self.requests
        return out


def parse_metrics(text: str, *, method: str = "psi", threshold: float = 0.2) -> Observation:
    """An Observation from Prometheus text exposition; absent series stay None (too few rows yet)."""
    drift: float | None = None
    drifted: list[str] = []
    live: dict[str, float] = {}
    requests = 0
    seen_requests = False
    per_feature = "modelops_drift_psi" if method == "psi" else "modelops_drift_ks_statistic"
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "modelops_drift_score" and sample.labels.get("method") == method:
                drift = float(sample.value)
            elif sample.name == per_feature and float(sample.value) > threshold:
                drifted.append(sample.labels.get("feature", "?"))
            elif sample.name.startswith("modelops_live_") and sample.name != "modelops_live_feedback_samples":
                live[sample.name.removeprefix("modelops_live_")] = float(sample.value)
            elif sample.name == "modelops_requests_total":
                requests += int(sample.value)
                seen_requests = True
    return Observation(drift, sorted(drifted), live, requests if seen_requests else None)


def _time(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def retrain_reason(spec: Manifest, observed: Observation, last_trigger: str | None, now: dt.datetime) -> str | None:
    """Why to retrain now under the spec's policy, or None (policy, thresholds, cooldown)."""
    retraining = spec.get("retraining") or {}
    policy = retraining.get("policy", "Never")
    monitoring = spec.get("monitoring") or {}
    last = _time(last_trigger)
    cooldown = parse_duration(retraining.get("cooldown", "1h")) or dt.timedelta(0)
    if policy in ("Never", "Schedule") or (last is not None and now - last < cooldown):
        return None  # Schedule is decided by schedule_reason, without metrics
    if policy == "OnDrift" and (drift := monitoring.get("drift")) and observed.drift_score is not None:
        if observed.drift_score > float(drift.get("threshold", 0.2)):
            features = ", ".join(observed.drifted_features) or "none over the threshold alone"
            return f"drift {drift.get('method', 'psi')}={observed.drift_score:.3f} > {drift.get('threshold', 0.2)} " \
                f"(features: {features})"  # fmt: skip
    if policy == "OnDegradation" and (performance := monitoring.get("performance")):
        metric = performance.get("metric", "accuracy")
        value = observed.live.get(metric)
        if value is not None:
            worse = value > performance["min"] if metric == "rmse" else value < performance["min"]
            if worse:
                return f"live {metric}={value:.3f} worse than {performance['min']}"
    return None


def schedule_reason(spec: Manifest, last_trigger: str | None, created: str | None, now: dt.datetime) -> str | None:
    """Why to retrain now under a `Schedule` policy, or None.

    Due when a cron tick (UTC) has passed since the last trigger, or since the ModelDeployment
    was created when it never triggered. Ticks missed while the operator was down collapse into
    one retraining; the cooldown still applies.
    """
    retraining = spec.get("retraining") or {}
    if retraining.get("policy") != "Schedule" or not retraining.get("schedule"):
        return None
    since = _time(last_trigger) or _time(created)
    if since is None:
        return None
    cooldown = parse_duration(retraining.get("cooldown", "1h")) or dt.timedelta(0)
    if _time(last_trigger) is not None and now - since < cooldown:
        return None
    tick: dt.datetime = croniter(retraining["schedule"], since).get_next(dt.datetime)
    if tick > now:
        return None
    return f"schedule {retraining['schedule']!r}: due at {tick.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def rollback(spec: Manifest, status: Manifest, observed: Observation) -> tuple[str, Manifest] | None:
    """(why, the model to put back) when the promoted retrained model does worse, else None.

    Worse means its live metric is below `monitoring.performance.min` (above, for rmse) or below
    the live value of the model it replaced (`status.retraining.baseline`). Decided once per run:
    `status.retraining.rolledBack` records it, so a restart does not decide it again.
    """
    performance = (spec.get("monitoring") or {}).get("performance")
    current = status.get("retraining") or {}
    run = current.get("run")
    if not (spec.get("retraining") or {}).get("rollback", True) or not performance or not run:
        return None
    if current.get("rolledBack") or (status.get("model") or {}).get("run") != run:
        return None
    metric = performance.get("metric", "accuracy")
    value = observed.live.get(metric)
    history = status.get("history") or []
    previous = [entry for entry in history if entry.get("run") != run]
    if value is None or not previous:
        return None
    sign = -1.0 if metric == "rmse" else 1.0  # compare as "higher is better"
    baseline = current.get("baseline")
    if sign * value < sign * float(performance["min"]):
        why = f"live {metric}={value:.3f} of {run} is worse than the minimum {performance['min']}"
    elif baseline is not None and sign * value < sign * float(baseline):
        why = f"live {metric}={value:.3f} of {run} is worse than {float(baseline):.3f} before it"
    else:
        return None
    restored = {key: previous[-1][key] for key in ("uri", "version", "run") if key in previous[-1]}
    return why, restored
