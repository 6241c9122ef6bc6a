"""The Job's result channel: a JSON document on stdout and in the termination-message file.

Kubernetes keeps at most MAX_BYTES of a termination message, so results are
shrunk to fit (long lists and messages are cut) rather than truncated mid-JSON.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from modelops.contract.termination import MAX_BYTES, write_termination_message


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
    write_termination_message(text, path)
    return text
