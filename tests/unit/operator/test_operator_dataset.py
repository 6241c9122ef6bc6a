"""Dataset decisions: when a prepare Job runs, and what its outcome makes of the status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from modelops.api.objects import Dataset
from modelops.contract.jobs import DatasetResult
from modelops.operator.decisions import dataset as decide
from modelops.operator.jobstate import JobOutcome
from modelops.operator.naming import JobRun
from modelops.operator.status import Plan

from .kstatus import cond, flags
from .operator_objects import NOW, dataset

DS_SPEC: dict[str, Any] = {"source": {"builtin": {"name": "iris"}}, "target": "target"}
RESULT = DatasetResult(
    name="iris",
    version="v1",
    rows=150,
    columns=5,
    artifact="file:///s/d",
    report="file:///s/r.html",
    profile="file:///s/p.json",
    quality={"duplicates": 1},
).model_dump_json()


def applied(ds: Dataset, plan: Plan[Any]) -> Dataset:
    return ds.model_copy(update={"status": plan.status})


def started(spec: dict[str, Any] = DS_SPEC) -> Dataset:
    ds = dataset("iris", spec)
    return applied(ds, decide.start(ds, JobRun(1, 0), "iris-prepare-1-0", NOW))


def prepared(spec: dict[str, Any] = DS_SPEC) -> Dataset:
    ds = started(spec)
    return applied(ds, decide.follow(ds, JobOutcome("succeeded", RESULT, 0), NOW))


def test_a_new_dataset_starts_its_first_prepare_job_and_is_reconciling() -> None:
    ds = dataset("iris", DS_SPEC, generation=4)
    assert decide.next_run(ds, NOW) == JobRun(4, 0)
    plan = decide.start(ds, JobRun(4, 0), "iris-prepare-4-0", NOW)
    assert (plan.status.phase, plan.status.job_name, plan.status.observed_generation) == (
        "Running",
        "iris-prepare-4-0",
        4,
    )
    assert flags(plan.status) == ("False", "True", "False")
    assert all(c.observed_generation == 4 for c in plan.status.conditions)
    assert [e.reason for e in plan.events] == ["Preparing"]


def test_a_job_in_flight_is_followed_not_restarted() -> None:
    ds = started()
    assert decide.next_run(ds, NOW + dt.timedelta(hours=5)) is None
    assert decide.follow(ds, JobOutcome("running"), NOW).status == ds.status


def test_a_succeeded_job_fills_version_history_and_ready() -> None:
    ds = started()
    plan = decide.follow(ds, JobOutcome("succeeded", RESULT, 0), NOW)
    st = plan.status
    assert (st.phase, st.version, st.rows, st.columns) == ("Ready", "v1", 150, 5)
    assert st.profile == "file:///s/p.json" and st.report == "file:///s/r.html"
    assert [(v.version, v.rows, v.created) for v in st.versions] == [("v1", 150, "2026-01-02T03:04:05Z")]
    assert flags(st) == ("True", "False", "False")
    assert [e.reason for e in plan.events] == ["Prepared"]


def test_refresh_starts_a_new_run_only_after_the_interval_and_stays_ready_meanwhile() -> None:
    ds = prepared({**DS_SPEC, "refreshInterval": "1h"})
    assert decide.next_run(ds, NOW + dt.timedelta(minutes=59)) is None
    assert decide.next_run(ds, NOW + dt.timedelta(hours=1)) == JobRun(1, 1)
    refreshing = decide.start(ds, JobRun(1, 1), "iris-prepare-1-1", NOW)
    # Runs keep training on the current version while it refreshes; the refresh is work in flight.
    assert refreshing.status.phase == "Ready"
    assert flags(refreshing.status) == ("True", "True", "False")


def test_unchanged_content_keeps_the_version_and_history() -> None:
    ds = prepared({**DS_SPEC, "refreshInterval": "1h"})
    ds = applied(ds, decide.start(ds, JobRun(1, 1), "iris-prepare-1-1", NOW))
    plan = decide.follow(ds, JobOutcome("succeeded", RESULT, 0), NOW)
    assert len(plan.status.versions) == 1
    assert "Unchanged" in [e.reason for e in plan.events]
    assert flags(plan.status) == ("True", "False", "False")


def test_a_spec_change_starts_over_for_the_new_generation() -> None:
    ds = started()
    ds = ds.model_copy(update={"metadata": ds.metadata.model_copy(update={"generation": 2})})
    assert decide.next_run(ds, NOW) == JobRun(2, 0)


def test_a_bad_input_failure_reports_the_trainers_reason_and_stalls() -> None:
    ds = started()
    message = '{"error": "target column \'x\' not found", "reason": "BadInput"}'
    plan = decide.follow(ds, JobOutcome("failed", message, 2, 1, "PodFailurePolicy"), NOW)
    assert plan.status.phase == "Failed"
    ready = cond(plan.status, "Ready")
    assert (ready.reason, ready.message) == ("BadInput", "target column 'x' not found")
    assert flags(plan.status) == ("False", "False", "True")
    assert [(e.type, e.reason) for e in plan.events] == [("Warning", "BadInput")]
    assert plan.status.failures == 1


def test_an_unreadable_result_fails_instead_of_crashing() -> None:
    plan = decide.follow(started(), JobOutcome("succeeded", "not json", 0), NOW)
    assert (plan.status.phase, cond(plan.status, "Ready").reason) == ("Failed", "ResultUnreadable")


def test_a_deleted_job_in_flight_is_made_again_under_the_same_name() -> None:
    assert decide.follow(started(), JobOutcome("absent"), NOW).create_job == JobRun(1, 0)


def test_retention_keeps_the_newest_versions() -> None:
    ds = prepared({**DS_SPEC, "governance": {"retention": {"keepVersions": 1}}})
    ds = applied(ds, decide.start(ds, JobRun(1, 1), "iris-prepare-1-1", NOW))
    newer = RESULT.replace('"v1"', '"v2"')
    assert [v.version for v in decide.follow(ds, JobOutcome("succeeded", newer, 0), NOW).status.versions] == ["v2"]
