"""What a Job's state and its pods' termination messages say: pure readers of typed views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from modelops.contract.jobs import EXIT_BAD_INPUT, REASON_BAD_INPUT, JobFailure
from modelops.operator.views import JobView, PodView, Terminated

JobState = Literal["absent", "running", "succeeded", "failed"]
ResultT = TypeVar("ResultT", bound=BaseModel)
_TAIL = 1000


@dataclass(frozen=True)
class JobOutcome:
    state: JobState
    message: str = ""
    exit_code: int | None = None
    failed_pods: int = 0
    job_reason: str = ""
    completed_indexes: frozenset[int] = frozenset()  # of an Indexed Job

    def result(self, shape: type[ResultT]) -> ResultT | None:
        """The Job's result document in `shape`, or None when the message is not one."""
        try:
            return shape.model_validate_json(self.message)
        except ValidationError:
            return None

    def failure(self) -> tuple[str, str]:
        """(reason, message) of a failed Job for the status: the trainer's own words when it left them."""
        if (reported := self.result(JobFailure)) is not None:
            return reported.reason, reported.error
        tail = self.message.strip()[-_TAIL:]
        if self.exit_code == EXIT_BAD_INPUT:
            return REASON_BAD_INPUT, tail or "the trainer refused its input"
        if self.job_reason == "DeadlineExceeded":
            return "DeadlineExceeded", "the Job ran longer than its deadline"
        return _reason(self.job_reason or "JobFailed"), tail or f"the Job failed after {self.failed_pods} pod(s)"


def _reason(text: str) -> str:
    """A condition reason must be CamelCase-ish: keep letters and digits."""
    cleaned = "".join(ch for ch in text if ch.isalnum())
    return cleaned if cleaned[:1].isalpha() else f"Job{cleaned}" if cleaned else "JobFailed"


def _terminated(pod: PodView) -> Terminated | None:
    return next((s.state.terminated for s in pod.status.container_statuses if s.state.terminated), None)


def job_outcome(job: JobView | None, pods: list[PodView]) -> JobOutcome:
    """Read a Job and its pods. The newest terminated pod carries the result or the error."""
    if job is None:
        return JobOutcome("absent")
    done = [(p, t) for p in pods if (t := _terminated(p)) is not None]
    done.sort(key=lambda pt: (pt[1].finished_at or "", pt[0].metadata.creation_timestamp or ""))
    message, exit_code = ("", None)
    if done:
        message, exit_code = done[-1][1].message or "", done[-1][1].exit_code
    failed = job.status.failed
    if job.succeeded():
        successful = [t for _, t in done if t.exit_code == 0]
        if successful:
            message, exit_code = successful[-1].message or "", 0
        return JobOutcome("succeeded", message, exit_code, failed)
    if condition := job.condition("Failed"):
        return JobOutcome("failed", message, exit_code, failed, condition.reason or "")
    return JobOutcome("running", message, exit_code, failed, completed_indexes=job.completed_indexes())
