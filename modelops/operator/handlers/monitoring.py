"""Reading a served model's metrics and starting a retraining under the ModelDeployment's policy."""

from __future__ import annotations

import logging
import threading
import time
import urllib.request

from modelops.operator import naming
from modelops.operator.builders.trainingrun import RETRAIN_OF, retraining_run, retraining_run_name
from modelops.operator.conditions import now_iso
from modelops.operator.decisions import parse_duration
from modelops.operator.handlers.context import Context, Manifest
from modelops.operator.kube import MODEL_DEPLOYMENTS, TRAINING_RUNS
from modelops.operator.monitoring import Observation, parse_metrics, retrain_reason, rollback, schedule_reason

log = logging.getLogger("modelops.operator")
_last_read: dict[str, float] = {}
_guard = threading.Lock()


def _due(uid: str, interval: float) -> bool:
    """Read at most once per `monitoring.interval` (in memory: a restart reads at once, which is harmless)."""
    now = time.monotonic()
    with _guard:
        if now - _last_read.get(uid, -float("inf")) < interval:
            return False
        _last_read[uid] = now
        return True


def _fetch(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode("utf-8", "replace"))
    except OSError as error:
        # Serving not reachable yet (or no network path from here): nothing to decide on; try next interval.
        log.debug("cannot read metrics at %s: %s", url, error)
        return None


def _observe(ctx: Context, obj: Manifest) -> Observation | None:
    """The serving metrics, at most once per `monitoring.interval`; None when not due or unreachable."""
    monitoring, meta = obj["spec"].get("monitoring"), obj["metadata"]
    if not monitoring:
        return None
    interval = parse_duration(monitoring.get("interval", "60s"))
    if not _due(meta["uid"], interval.total_seconds() if interval else 60.0):
        return None
    url = ctx.settings.monitoring_url.format(service=naming.serving_name(meta["name"]), namespace=meta["namespace"])
    text = _fetch(url, ctx.settings.monitoring_timeout)
    if text is None:
        return None
    drift = monitoring.get("drift") or {}
    return parse_metrics(text, method=drift.get("method", "psi"), threshold=float(drift.get("threshold", 0.2)))


def _performance_metric(spec: Manifest) -> str:
    return str(((spec.get("monitoring") or {}).get("performance") or {}).get("metric", "accuracy"))


def monitor(ctx: Context, obj: Manifest) -> None:
    """Update `status.monitoring`; start a TrainingRun from the template when the policy says so.

    A `Schedule` policy needs no metrics: it is decided on every reconcile from the status alone.
    """
    spec, meta, status = obj["spec"], obj["metadata"], obj.get("status") or {}
    if status.get("phase") != "Ready":
        return
    now = ctx.clock()
    created = meta.get("creationTimestamp")
    update: Manifest = {}
    observed = _observe(ctx, obj)
    retraining = status.get("retraining") or {}
    if observed is not None:
        update["monitoring"] = observed.status()
        if taken_back := rollback(spec, status, observed):
            why, restored = taken_back
            update["retraining"] = {**retraining, "rolledBack": True, "restored": restored}
            ctx.event(obj, "Warning", "RolledBack", f"back to model {restored['version']}: {why}")
            ctx.kube.patch_status(MODEL_DEPLOYMENTS, meta["namespace"], meta["name"], update)
            return

    def reason_since(last: str | None) -> tuple[str, str] | None:
        """(why, Event type): drift or degradation is a Warning, a scheduled retraining is Normal."""
        if observed is not None and (why := retrain_reason(spec, observed, last, now)):
            return why, "Warning"
        if why := schedule_reason(spec, last, created, now):
            return why, "Normal"
        return None

    due = reason_since(retraining.get("lastTrigger"))
    if due is not None:
        reason, event_type = due
        selector = f"{RETRAIN_OF}={naming.bounded(meta['name'])}"
        runs = ctx.kube.list(TRAINING_RUNS, meta["namespace"], selector)
        # A run created just before a restart, before its status write, still counts for the cooldown.
        newest = max((r["metadata"].get("creationTimestamp") or "" for r in runs), default=None)
        if newest is None or reason_since(newest) is not None:
            name = retraining_run_name(meta["name"], len(runs) + 1)
            ctx.kube.create_or_get(retraining_run(obj, name=name, reason=reason))
            update["retraining"] = {"lastTrigger": now_iso(now), "reason": reason, "run": name}
            if observed is not None and (baseline := observed.live.get(_performance_metric(spec))) is not None:
                update["retraining"]["baseline"] = baseline
            ctx.event(obj, event_type, "Retraining", f"started TrainingRun {name}: {reason}")
    if any(status.get(k) != v for k, v in update.items()):
        ctx.kube.patch_status(MODEL_DEPLOYMENTS, meta["namespace"], meta["name"], update)
