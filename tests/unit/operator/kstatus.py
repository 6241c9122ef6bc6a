"""Reading the kstatus conditions of a status in tests."""

from __future__ import annotations

from modelops.api.common import Condition, ObjectStatus


def cond(status: ObjectStatus, type_: str) -> Condition:
    return next(c for c in status.conditions if c.type == type_)


def flags(status: ObjectStatus) -> tuple[str, str, str]:
    """(Ready, Reconciling, Stalled) as kstatus and Argo CD read them."""
    return cond(status, "Ready").status, cond(status, "Reconciling").status, cond(status, "Stalled").status
