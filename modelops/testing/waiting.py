"""Small verbs the integration tests and benchmarks share: poll until true, read and apply objects with kubectl."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import yaml

Kubectl = Callable[..., Any]


def wait_for(
    what: str,
    check: Callable[[], Any],
    *,
    timeout: float = 90.0,
    interval: float = 0.5,
    alive: Callable[[], str | None] | None = None,
) -> Any:
    """Poll ``check`` until it returns something truthy and return that.

    ``alive`` names why waiting is pointless (e.g. "operator exited (1)"), or returns None while
    the thing being waited on can still make progress; it turns a 90 s timeout into an instant failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if alive is not None and (dead := alive()):
            raise AssertionError(f"{dead} while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def get_object(kubectl: Kubectl, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    proc = kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def status_of(kubectl: Kubectl, namespace: str, kind: str, name: str) -> dict[str, Any]:
    return ((get_object(kubectl, namespace, kind, name) or {}).get("status")) or {}


def apply_objects(kubectl: Kubectl, namespace: str, *objs: dict[str, Any]) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(objs))


def has_phase(kubectl: Kubectl, namespace: str, kind: str, name: str, phase: str) -> Callable[[], bool]:
    """A check for :func:`wait_for`: the object's ``status.phase`` is ``phase``."""
    return lambda: status_of(kubectl, namespace, kind, name).get("phase") == phase


def patch_status(kubectl: Kubectl, namespace: str, kind: str, name: str, status: dict[str, Any]) -> None:
    """Merge ``status`` into the object's status subresource, as its controller would."""
    kubectl(
        "patch",
        kind,
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
