"""Serving metrics in, retraining decision out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from modelops.operator.builders.trainingrun import retraining_run, retraining_run_name
from modelops.operator.monitoring import Observation, parse_metrics, retrain_reason, rollback, schedule_reason

from .operator_objects import NOW, owner

METRICS = """\
# TYPE modelops_drift_score gauge
modelops_drift_score{method="psi"} 0.31
modelops_drift_score{method="ks"} 0.12
# TYPE modelops_drift_psi gauge
modelops_drift_psi{feature="petal_length"} 0.31
modelops_drift_psi{feature="sepal_width"} 0.05
# TYPE modelops_live_feedback_samples gauge
modelops_live_feedback_samples 200
# TYPE modelops_live_accuracy gauge
modelops_live_accuracy 0.82
# TYPE modelops_requests counter
modelops_requests_total{route="/predict",method="POST",code="200"} 40
modelops_requests_total{route="/v2/health/ready",method="GET",code="200"} 2
"""
TEMPLATE = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}


def spec(policy: str, **monitoring: Any) -> dict[str, Any]:
    return {
        "model": {"uri": "file:///m/1"},
        "monitoring": {"interval": "60s", **monitoring},
        "retraining": {"policy": policy, "template": TEMPLATE, "cooldown": "1h"},
    }


def test_metrics_text_becomes_drift_quality_and_traffic() -> None:
    observed = parse_metrics(METRICS, method="psi", threshold=0.2)
    assert observed == Observation(0.31, ["petal_length"], {"accuracy": 0.82}, 42)
    assert observed.status() == {
        "driftScore": 0.31,
        "driftedFeatures": ["petal_length"],
        "liveAccuracy": 0.82,
        "requests": 42,
    }


def test_a_young_server_without_drift_series_reports_nothing_to_act_on() -> None:
    assert parse_metrics("# TYPE modelops_drift_window_rows gauge\nmodelops_drift_window_rows 3\n").drift_score is None


def test_drift_over_the_threshold_retrains_under_on_drift() -> None:
    observed = parse_metrics(METRICS)
    reason = retrain_reason(spec("OnDrift", drift={"method": "psi", "threshold": 0.2}), observed, None, NOW)
    assert reason is not None and "drift psi=0.310 > 0.2" in reason and "petal_length" in reason
    assert retrain_reason(spec("OnDrift", drift={"threshold": 0.5}), observed, None, NOW) is None
    assert retrain_reason(spec("Never", drift={"threshold": 0.2}), observed, None, NOW) is None


def test_the_cooldown_holds_back_a_second_retraining() -> None:
    observed = parse_metrics(METRICS)
    drifting = spec("OnDrift", drift={"threshold": 0.2})
    assert retrain_reason(drifting, observed, "2026-01-02T02:30:00Z", NOW) is None
    later = NOW + dt.timedelta(hours=2)
    assert retrain_reason(drifting, observed, "2026-01-02T02:30:00Z", later) is not None


def test_degraded_live_quality_retrains_under_on_degradation() -> None:
    observed = parse_metrics(METRICS)
    assert retrain_reason(spec("OnDegradation", performance={"metric": "accuracy", "min": 0.9}), observed, None, NOW)
    assert not retrain_reason(
        spec("OnDegradation", performance={"metric": "accuracy", "min": 0.8}), observed, None, NOW
    )
    rmse = Observation(live={"rmse": 3.0})
    assert retrain_reason(spec("OnDegradation", performance={"metric": "rmse", "min": 2.0}), rmse, None, NOW)


def test_the_retraining_run_is_the_template_owned_by_the_deployment() -> None:
    md = owner("ModelDeployment", "iris", spec("OnDrift", drift={"threshold": 0.2}))
    run = retraining_run(md, name=retraining_run_name("iris", 3), reason="drift")
    assert run["metadata"]["name"] == "iris-retrain-3"
    assert run["spec"] == TEMPLATE
    assert run["metadata"]["ownerReferences"][0]["uid"] == "uid-iris"
    assert run["metadata"]["labels"]["modelops.io/retrain-of"] == "iris"


def scheduled(cron: str, cooldown: str = "0s") -> dict[str, Any]:
    return {"model": {"uri": "file:///m/1"}, "retraining": {"policy": "Schedule", "schedule": cron,
                                                             "template": TEMPLATE, "cooldown": cooldown}}  # fmt: skip


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_schedule_is_due_once_a_tick_passed_since_creation() -> None:
    created = iso(NOW - dt.timedelta(hours=2))  # created 01:04; the 02:00 and 03:00 ticks have passed

    reason = schedule_reason(scheduled("0 * * * *"), None, created, NOW)

    assert reason == "schedule '0 * * * *': due at 2026-01-02T02:00:00Z"


def test_a_schedule_is_not_due_before_its_next_tick() -> None:
    last = iso(NOW - dt.timedelta(minutes=3))  # triggered at 03:01; next tick 04:00

    assert schedule_reason(scheduled("0 * * * *"), last, None, NOW) is None


def test_ticks_missed_while_down_collapse_into_one_retraining() -> None:
    last = iso(NOW - dt.timedelta(days=3))
    reason = schedule_reason(scheduled("*/5 * * * *"), last, None, NOW)
    assert reason is not None

    # once it triggered now, the next retraining waits for the next tick, not for the missed ones
    assert schedule_reason(scheduled("*/5 * * * *"), iso(NOW), None, NOW + dt.timedelta(seconds=30)) is None


def test_the_cooldown_holds_back_a_scheduled_retraining() -> None:
    last = iso(NOW - dt.timedelta(minutes=10))

    assert schedule_reason(scheduled("* * * * *", cooldown="1h"), last, None, NOW) is None
    assert schedule_reason(scheduled("* * * * *"), last, None, NOW) is not None


def test_other_policies_ignore_the_schedule() -> None:
    body = spec("OnDrift")
    body["retraining"]["schedule"] = "* * * * *"

    assert schedule_reason(body, None, iso(NOW - dt.timedelta(days=1)), NOW) is None


ORIGINAL = {"uri": "file:///m/1", "version": "1", "promoted": "2026-01-01T00:00:00Z"}
RETRAINED = {"uri": "file:///m/2", "version": "2", "run": "iris-retrain-1", "promoted": "2026-01-02T00:00:00Z"}


def promoted(**retraining: Any) -> dict[str, Any]:
    """The status of a ModelDeployment serving the model of its retraining run."""
    return {
        "model": {"uri": "file:///m/2", "version": "2", "run": "iris-retrain-1"},
        "history": [ORIGINAL, RETRAINED],
        "retraining": {"run": "iris-retrain-1", "lastTrigger": "2026-01-02T00:00:00Z", **retraining},
    }


def degradation_spec(rollback_on: bool = True) -> dict[str, Any]:
    body = spec("OnDegradation", performance={"metric": "accuracy", "min": 0.8})
    body["retraining"]["rollback"] = rollback_on
    return body


def test_a_promoted_model_below_the_minimum_is_rolled_back_to_the_previous_one() -> None:
    decided = rollback(degradation_spec(), promoted(), Observation(live={"accuracy": 0.7}))

    assert decided == (
        "live accuracy=0.700 of iris-retrain-1 is worse than the minimum 0.8",
        {"uri": "file:///m/1", "version": "1"},
    )


def test_a_promoted_model_worse_than_the_one_it_replaced_is_rolled_back() -> None:
    decided = rollback(degradation_spec(), promoted(baseline=0.95), Observation(live={"accuracy": 0.9}))

    assert decided is not None and "worse than 0.950 before it" in decided[0]


def test_a_promoted_model_doing_as_well_stays() -> None:
    assert rollback(degradation_spec(), promoted(baseline=0.9), Observation(live={"accuracy": 0.93})) is None


def test_a_rollback_is_decided_once_per_run() -> None:
    status = promoted(rolledBack=True, restored={"uri": "file:///m/1", "version": "1"})

    assert rollback(degradation_spec(), status, Observation(live={"accuracy": 0.5})) is None


def test_no_rollback_when_the_policy_turns_it_off_or_nothing_is_measured_yet() -> None:
    assert rollback(degradation_spec(rollback_on=False), promoted(), Observation(live={"accuracy": 0.5})) is None
    assert rollback(degradation_spec(), promoted(), Observation()) is None
