"""metav1.Condition bookkeeping: pure functions over the status' condition list."""

from __future__ import annotations

import datetime as dt
from typing import Any

Condition = dict[str, Any]


def now_iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: bool | str,
    reason: str,
    message: str,
    *,
    generation: int,
    now: dt.datetime,
) -> list[Condition]:
    """A new list with `type_` set; lastTransitionTime moves only when the status flips."""
    value = ("True" if status else "False") if isinstance(status, bool) else status
    old = next((c for c in conditions if c.get("type") == type_), None)
    changed = old is None or old.get("status") != value
    new = {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message[:32768],
        "lastTransitionTime": now_iso(now) if changed or old is None else old["lastTransitionTime"],
        "observedGeneration": generation,
    }
    return [new if c.get("type") == type_ else c for c in conditions] if old else [*conditions, new]


def get_condition(conditions: list[Condition] | None, type_: str) -> Condition | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def is_true(conditions: list[Condition] | None, type_: str) -> bool:
    condition = get_condition(conditions, type_)
    return condition is not None and condition.get("status") == "True"
