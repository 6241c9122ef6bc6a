"""What a Job's state and its pods' termination messages say: pure readers of API objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from modelops.trainer import EXIT_BAD_INPUT, REASON_BAD_INPUT

JobState = Literal["absent", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class JobOutcome:
    state: JobState
    message: str = ""
    exit_code: int | None = None
    failed_pods: int = 0
    job_reason: str = ""

    def result(self) -> dict[str, Any] | None:
        """The trainer's JSON result (or error document), if the message is one."""
        try:
            data = json.loads(self.message)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def failure(self) -> tuple[str, str]:
        """(reason, message) of a failed Job for the status: the trainer's own words when it left them."""
        data = self.result() or {}
        if isinstance(data.get("reason"), str) and data.get("error"):
            return _reason(data["reason"]), str(data["error"])
        if self.exit_code == EXIT_BAD_INPUT:
            return REASON_BAD_INPUT, self.message.strip()[-1000:] or "the trainer refused its input"
        if self.job_reason == "DeadlineExceeded":
            return "DeadlineExceeded", "the Job ran longer than its deadline"
        tail = self.message.strip()[-1000:]
        return _reason(self.job_reason or "JobFailed"), tail or f"the Job failed after {self.failed_pods} pod(s)"


def _reason(text: str) -> str:
    """A condition reason must be CamelCase-ish: keep letters and digits."""
    cleaned = "".join(ch for ch in text if ch.isalnum())
    return cleaned if cleaned[:1].isalpha() else f"Job{cleaned}" if cleaned else "JobFailed"


def _job_condition(job: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") == type_ and condition.get("status") == "True":
            return dict(condition)
    return None


def _terminated(pod: dict[str, Any]) -> dict[str, Any] | None:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if terminated := (status.get("state") or {}).get("terminated"):
            return dict(terminated)
    return None


def job_outcome(job: dict[str, Any] | None, pods: list[dict[str, Any]]) -> JobOutcome:
    """Read a Job and its pods. The newest terminated pod carries the result or the error."""
    if job is None:
        return JobOutcome("absent")
    done = [(p, t) for p in pods if (t := _terminated(p)) is not None]
    done.sort(key=lambda pt: (pt[1].get("finishedAt") or "", pt[0]["metadata"].get("creationTimestamp") or ""))
    message, exit_code = ("", None)
    if done:
        message, exit_code = done[-1][1].get("message") or "", done[-1][1].get("exitCode")
    failed = int(job.get("status", {}).get("failed") or 0)
    if _job_condition(job, "Complete"):
        successful = [(p, t) for p, t in done if t.get("exitCode") == 0]
        if successful:
            message, exit_code = successful[-1][1].get("message") or "", 0
        return JobOutcome("succeeded", message, exit_code, failed)
    if condition := _job_condition(job, "Failed"):
        return JobOutcome("failed", message, exit_code, failed, str(condition.get("reason") or ""))
    return JobOutcome("running", message, exit_code, failed)
