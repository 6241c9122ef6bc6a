"""Serving metrics in; retraining and rollback decisions out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from modelops.api.common import ModelVersion
from modelops.api.modeldeployment import MonitoringStatus
from modelops.api.objects import ModelDeployment
from modelops.operator.clock import now_iso, parse_duration
from modelops.operator.decisions.retraining import (
    Observation,
    Retrain,
    parse_metrics,
    retrain_on_metrics,
    retrain_on_schedule,
    rollback,
)

from .operator_objects import MODEL_URI, NOW, model_deployment

METRICS = """\
# TYPE modelops_drift_score gauge
modelops_drift_score{method="psi"} 0.31
modelops_drift_score{method="ks"} 0.12
# TYPE modelops_drift_psi gauge
modelops_drift_psi{feature="petal_length"} 0.31
modelops_drift_psi{feature="sepal_width"} 0.05
# TYPE modelops_drift_ks_statistic gauge
modelops_drift_ks_statistic{feature="petal_length"} 0.12
modelops_drift_ks_statistic{feature="sepal_width"} 0.02
# TYPE modelops_live_feedback_samples gauge
modelops_live_feedback_samples 200
# TYPE modelops_live_accuracy gauge
modelops_live_accuracy 0.82
# TYPE modelops_live_degraded gauge
modelops_live_degraded{metric="accuracy"} 1
# TYPE modelops_requests counter
modelops_requests_total{route="/predict",method="POST",code="200"} 40
modelops_requests_total{route="/v2/health/ready",method="GET",code="200"} 2
"""
TEMPLATE = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}


def md(
    policy: str, *, status: dict[str, Any] | None = None, cooldown: str = "1h", **monitoring: Any
) -> ModelDeployment:
    spec = {
        "model": {"uri": MODEL_URI},
        "monitoring": {"interval": "60s", **monitoring},
        "retraining": {"policy": policy, "template": TEMPLATE, "cooldown": cooldown},
    }
    return model_deployment("iris", spec, **(status or {}))


def test_metrics_text_becomes_drift_quality_and_traffic() -> None:
    observed = parse_metrics(METRICS, md("OnDrift", drift={"method": "psi", "threshold": 0.2}))
    assert observed == Observation(0.31, ["petal_length"], {"accuracy": 0.82}, 42)
    assert observed.status() == MonitoringStatus(
        drift_score=0.31, drifted_features=["petal_length"], live_accuracy=0.82, requests=42
    )


def test_the_drift_method_and_threshold_of_the_spec_decide_what_drifted() -> None:
    ks = parse_metrics(METRICS, md("OnDrift", drift={"method": "ks", "threshold": 0.1}))
    assert (ks.drift_score, ks.drifted_features) == (0.12, ["petal_length"])
    lenient = parse_metrics(METRICS, md("OnDrift", drift={"method": "psi", "threshold": 0.5}))
    assert lenient.drifted_features == []


def test_a_young_server_without_drift_series_reports_nothing_to_act_on() -> None:
    young = "# TYPE modelops_drift_window_rows gauge\nmodelops_drift_window_rows 3\n"
    assert parse_metrics(young, md("OnDrift", drift={})).drift_score is None


def test_drift_over_the_threshold_retrains_under_on_drift() -> None:
    drifting = md("OnDrift", drift={"method": "psi", "threshold": 0.2})
    due = retrain_on_metrics(drifting, parse_metrics(METRICS, drifting), None, NOW)
    assert due is not None and due.trigger == "drift"
    assert "drift psi=0.310 > 0.2" in due.reason and "petal_length" in due.reason
    calm = md("OnDrift", drift={"threshold": 0.5})
    assert retrain_on_metrics(calm, parse_metrics(METRICS, calm), None, NOW) is None
    never = md("Never", drift={"threshold": 0.2})
    assert retrain_on_metrics(never, parse_metrics(METRICS, never), None, NOW) is None


def test_the_cooldown_holds_back_a_second_retraining() -> None:
    drifting = md("OnDrift", drift={"threshold": 0.2})
    observed = parse_metrics(METRICS, drifting)
    assert retrain_on_metrics(drifting, observed, "2026-01-02T02:30:00Z", NOW) is None
    assert retrain_on_metrics(drifting, observed, "2026-01-02T02:30:00Z", NOW + dt.timedelta(hours=2)) is not None


def test_degraded_live_quality_retrains_under_on_degradation() -> None:
    strict = md("OnDegradation", performance={"metric": "accuracy", "min": 0.9})
    assert retrain_on_metrics(strict, parse_metrics(METRICS, strict), None, NOW) == Retrain(
        "degradation", "live accuracy=0.820 worse than 0.9"
    )
    lenient = md("OnDegradation", performance={"metric": "accuracy", "min": 0.8})
    assert retrain_on_metrics(lenient, parse_metrics(METRICS, lenient), None, NOW) is None
    rmse = md("OnDegradation", performance={"metric": "rmse", "min": 2.0})
    assert retrain_on_metrics(rmse, Observation(live={"rmse": 3.0}), None, NOW) is not None


def scheduled(cron: str, cooldown: str = "0s", created: dt.datetime = NOW) -> ModelDeployment:
    spec = {
        "model": {"uri": MODEL_URI},
        "retraining": {"policy": "Schedule", "schedule": cron, "template": TEMPLATE, "cooldown": cooldown},
    }
    found = model_deployment("iris", spec)
    return found.model_copy(
        update={"metadata": found.metadata.model_copy(update={"creation_timestamp": now_iso(created)})}
    )


def test_a_schedule_is_due_once_a_tick_passed_since_creation() -> None:
    created = NOW - dt.timedelta(hours=2)  # created 01:04; the 02:00 and 03:00 ticks have passed
    due = retrain_on_schedule(scheduled("0 * * * *", created=created), None, NOW)
    assert due == Retrain("schedule", "schedule '0 * * * *': due at 2026-01-02T02:00:00Z")


def test_a_schedule_is_not_due_before_its_next_tick() -> None:
    last = now_iso(NOW - dt.timedelta(minutes=3))  # triggered at 03:01; next tick 04:00
    assert retrain_on_schedule(scheduled("0 * * * *"), last, NOW) is None


def test_ticks_missed_while_down_collapse_into_one_retraining() -> None:
    assert retrain_on_schedule(scheduled("*/5 * * * *"), now_iso(NOW - dt.timedelta(days=3)), NOW) is not None
    # once it triggered now, the next retraining waits for the next tick, not for the missed ones
    assert retrain_on_schedule(scheduled("*/5 * * * *"), now_iso(NOW), NOW + dt.timedelta(seconds=30)) is None


def test_the_cooldown_holds_back_a_scheduled_retraining() -> None:
    last = now_iso(NOW - dt.timedelta(minutes=10))
    assert retrain_on_schedule(scheduled("* * * * *", cooldown="1h"), last, NOW) is None
    assert retrain_on_schedule(scheduled("* * * * *"), last, NOW) is not None


def test_other_policies_ignore_the_schedule() -> None:
    on_drift = md("OnDrift")
    assert on_drift.spec.retraining is not None
    on_drift.spec.retraining.schedule = "* * * * *"
    assert retrain_on_schedule(on_drift, None, NOW + dt.timedelta(days=1)) is None


ORIGINAL = {"uri": MODEL_URI, "version": "0123456789abcdef", "promoted": "2026-01-01T00:00:00Z"}
RETRAINED_URI = f"{MODEL_URI[:-16]}fedcba9876543210"
RETRAINED = {
    "uri": RETRAINED_URI,
    "version": "fedcba9876543210",
    "run": "iris-retrain-1",
    "promoted": "2026-01-02T00:00:00Z",
}


def promoted(rollback_on: bool = True, **retraining: Any) -> ModelDeployment:
    """A ModelDeployment serving the model of its retraining run."""
    found = md(
        "OnDegradation",
        performance={"metric": "accuracy", "min": 0.8},
        status={
            "model": {"uri": RETRAINED_URI, "version": "fedcba9876543210", "run": "iris-retrain-1"},
            "history": [ORIGINAL, RETRAINED],
            "retraining": {"run": "iris-retrain-1", "lastTrigger": "2026-01-02T00:00:00Z", **retraining},
        },
    )
    assert found.spec.retraining is not None
    found.spec.retraining.rollback = rollback_on
    return found


def test_a_promoted_model_below_the_minimum_is_rolled_back_to_the_previous_one() -> None:
    assert rollback(promoted(), Observation(live={"accuracy": 0.7})) == (
        "live accuracy=0.700 of iris-retrain-1 is worse than the minimum 0.8",
        ModelVersion(uri=MODEL_URI, version="0123456789abcdef"),
    )


def test_a_promoted_model_worse_than_the_one_it_replaced_is_rolled_back() -> None:
    decided = rollback(promoted(baseline=0.95), Observation(live={"accuracy": 0.9}))
    assert decided is not None and "worse than 0.950 before it" in decided[0]


def test_a_promoted_model_doing_as_well_stays() -> None:
    assert rollback(promoted(baseline=0.9), Observation(live={"accuracy": 0.93})) is None


def test_a_rollback_is_decided_once_per_run() -> None:
    done = promoted(rolledBack=True, restored={"uri": MODEL_URI, "version": "0123456789abcdef"})
    assert rollback(done, Observation(live={"accuracy": 0.5})) is None


def test_no_rollback_when_the_policy_turns_it_off_or_nothing_is_measured_yet() -> None:
    assert rollback(promoted(rollback_on=False), Observation(live={"accuracy": 0.5})) is None
    assert rollback(promoted(), Observation()) is None


def test_durations_parse_like_the_crd_pattern() -> None:
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("45s") == dt.timedelta(seconds=45)
