"""Status bookkeeping every kind shares: kstatus conditions, phase transitions, Events, the write.

Each reconcile ends in one `Transition`: the phase, whether the object is usable (`Ready`),
whether work is in flight (`Reconciling`) and whether it is stuck until a human acts
(`Stalled`). Tools that read kstatus (Flux, Helm `--wait`, `kubectl wait`) and Argo CD's health
checks judge the object by those three conditions and `observedGeneration` alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from modelops.api.common import Condition, ObjectStatus
from modelops.operator.clock import now_iso
from modelops.operator.naming import JobRun

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
StatusT = TypeVar("StatusT", bound=ObjectStatus)
EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: str
    message: str


@dataclass(frozen=True)
class Transition:
    """Where a reconcile leaves the object."""

    phase: str
    reason: str
    message: str
    ready: bool = False
    reconciling: bool = False
    stalled: bool = False
    warning: bool = False
    extra: Sequence[tuple[str, bool, str, str]] = ()  # further conditions: (type, status, reason, message)


@dataclass
class Plan(Generic[StatusT]):
    """The status to write and what to do first (a Job to create), plus the Events to post."""

    status: StatusT
    create_job: JobRun | None = None
    events: list[Event] = field(default_factory=list)

    def note(self, type_: EventType, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message))


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    *,
    generation: int,
    now: dt.datetime,
) -> list[Condition]:
    """A new list with `type_` set; lastTransitionTime moves only when the status flips."""
    value = "True" if status else "False"
    old = next((c for c in conditions if c.type == type_), None)
    new = Condition(
        type=type_,
        status=value,
        reason=reason,
        message=message[:32768],
        last_transition_time=now_iso(now) if old is None or old.status != value else old.last_transition_time,
        observed_generation=generation,
    )
    return [new if c.type == type_ else c for c in conditions] if old else [*conditions, new]


def condition_is(conditions: Sequence[Condition], type_: str, status: bool = True) -> bool:
    return any(c.type == type_ and c.status == ("True" if status else "False") for c in conditions)


def transition(
    plan: Plan[StatusT], to: Transition, *, generation: int, now: dt.datetime, before: StatusT | None = None
) -> None:
    """Move `plan.status` to `to`; an Event when the phase or the reason changes (compared with `before`)."""
    previous = before if before is not None else plan.status
    old_ready = next((c for c in previous.conditions if c.type == READY), None)
    conditions = plan.status.conditions
    for type_, value in ((READY, to.ready), (RECONCILING, to.reconciling), (STALLED, to.stalled)):
        conditions = set_condition(conditions, type_, value, to.reason, to.message, generation=generation, now=now)
    for type_, value, reason, message in to.extra:
        conditions = set_condition(conditions, type_, value, reason, message, generation=generation, now=now)
    plan.status = plan.status.model_copy(
        update={"phase": to.phase, "conditions": conditions, "message": to.message, "observed_generation": generation}
    )
    if old_ready is None or previous.phase != to.phase or old_ready.reason != to.reason:
        plan.note("Warning" if to.warning or to.stalled else "Normal", to.reason, to.message)


def merge_patch(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`; `{}` when they are equal."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_patch(old[key], value)
    return patch
