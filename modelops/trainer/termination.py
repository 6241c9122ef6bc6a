"""The Job's result channel: a JSON document on stdout and in the termination-message file.

Kubernetes keeps at most 4096 bytes of a termination message, so results are
shrunk to fit (long lists and messages are cut) rather than truncated mid-JSON.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from modelops.contract.jobs import TERMINATION_MESSAGE_PATH

log = logging.getLogger(__name__)

MAX_BYTES = 4096
PATH_ENV = "TERMINATION_MESSAGE_PATH"


def termination_path(explicit: str | None) -> tuple[str, bool]:
    """(path, whether it was asked for). The default is used only where a kubelet created it."""
    if explicit:
        return explicit, True
    if env := os.environ.get(PATH_ENV):
        return env, True
    return TERMINATION_MESSAGE_PATH, False


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), sort_keys=False, default=str)


def _fits(payload: dict[str, Any], limit: int) -> bool:
    return len(_dump(payload).encode()) <= limit


def fit_payload(payload: dict[str, Any], limit: int = MAX_BYTES) -> str:
    """Compact JSON of `payload`, shrunk until it is at most `limit` bytes."""
    if _fits(payload, limit):
        return _dump(payload)
    shrunk = dict(payload)
    # Cut detail in order of least interest to the operator.
    for key in ("best_hyperparameters", "quality", "reasons", "metrics"):
        value = shrunk.get(key)
        if isinstance(value, list):
            shrunk[key] = [str(item)[:200] for item in value[:3]]
        elif isinstance(value, dict):
            shrunk[key] = dict(list(value.items())[:5])
        if _fits(shrunk, limit):
            return _dump(shrunk)
    error = shrunk.get("error")
    if isinstance(error, str):
        excess = len(_dump(shrunk).encode()) - limit
        shrunk["error"] = error.encode()[: max(0, len(error.encode()) - excess - 8)].decode(errors="ignore") + "..."
    return _dump(shrunk)


def report(result: BaseModel | dict[str, Any], *, path: str | None) -> str:
    """Print the result on stdout and write it to the termination-message file."""
    payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    text = fit_payload(payload)
    print(text, flush=True)
    target, requested = termination_path(path)
    if requested or Path(target).exists():
        try:
            Path(target).write_text(text)
        except OSError as e:
            # The result is on stdout too; a failed write must not turn success into failure.
            log.warning("cannot write the termination message to %s: %s", target, e)
    return text
