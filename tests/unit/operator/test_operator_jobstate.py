"""Reading a Job and its pods: state, the newest pod's termination message, the failure's reason."""

from __future__ import annotations

from modelops.contract.jobs import DatasetResult
from modelops.operator.jobstate import job_outcome
from modelops.operator.views import JobView, PodView

RESULT = DatasetResult(
    name="iris", version="v1", rows=1, columns=1, artifact="a", report="r", profile="p", quality={}
).model_dump_json()


def job(*conditions: str, failed: int = 0, reason: str = "") -> JobView:
    conds = [{"type": c, "status": "True", "reason": reason} for c in conditions]
    return JobView.model_validate({"metadata": {"name": "j"}, "status": {"conditions": conds, "failed": failed}})


def pod(exit_code: int, message: str, finished: str) -> PodView:
    terminated = {"exitCode": exit_code, "message": message, "finishedAt": finished}
    return PodView.model_validate(
        {
            "metadata": {"name": f"p-{finished}", "creationTimestamp": finished},
            "status": {"containerStatuses": [{"name": "trainer", "state": {"terminated": terminated}}]},
        }
    )


def test_no_job_is_absent_and_an_unfinished_one_is_running() -> None:
    assert job_outcome(None, []).state == "absent"
    assert job_outcome(job(), []).state == "running"


def test_a_complete_job_reports_the_successful_pods_result() -> None:
    pods = [
        pod(75, '{"error":"s3 down","reason":"Transient"}', "2026-01-01T00:00:01Z"),
        pod(0, RESULT, "2026-01-01T00:00:09Z"),
    ]
    outcome = job_outcome(job("Complete", failed=1), pods)
    assert (outcome.state, outcome.failed_pods) == ("succeeded", 1)
    assert outcome.result(DatasetResult) == DatasetResult.model_validate_json(RESULT)


def test_a_job_whose_success_criteria_are_met_has_succeeded_before_it_is_marked_complete() -> None:
    outcome = job_outcome(job("SuccessCriteriaMet"), [pod(0, RESULT, "2026-01-01T00:00:09Z")])
    assert outcome.state == "succeeded"
    assert outcome.result(DatasetResult) == DatasetResult.model_validate_json(RESULT)


def test_a_failed_job_reports_the_trainers_error() -> None:
    outcome = job_outcome(
        job("Failed", failed=1, reason="PodFailurePolicy"), [pod(2, '{"error":"no column y","reason":"BadInput"}', "t")]
    )
    assert outcome.state == "failed"
    assert outcome.failure() == ("BadInput", "no column y")


def test_a_message_that_is_not_the_expected_result_is_not_taken_for_one() -> None:
    outcome = job_outcome(job("Complete"), [pod(0, '{"version": "v1"}', "t")])
    assert outcome.result(DatasetResult) is None


def test_a_crash_without_a_result_reports_the_log_tail() -> None:
    outcome = job_outcome(job("Failed", failed=3, reason="BackoffLimitExceeded"), [pod(1, "Killed\nMemoryError", "t")])
    assert outcome.failure() == ("BackoffLimitExceeded", "Killed\nMemoryError")


def test_a_deadline_is_named_as_such() -> None:
    outcome = job_outcome(job("Failed", reason="DeadlineExceeded"), [])
    assert outcome.failure()[0] == "DeadlineExceeded"
