"""How a container tells the operator why it ended: its termination-message file.

The kubelet creates the file (``terminationMessagePath``, ``/dev/termination-log`` by default)
and copies it into the pod's status; the trainer writes its result there, the server the reason
it could not start. Outside a kubelet the default path does not exist and nothing is written,
unless a path is asked for (flag or ``TERMINATION_MESSAGE_PATH``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from modelops.contract.jobs import TERMINATION_MESSAGE_PATH

log = logging.getLogger(__name__)

PATH_ENV = "TERMINATION_MESSAGE_PATH"
# Kubernetes keeps at most this many bytes of a termination message.
MAX_BYTES = 4096


def termination_path(explicit: str | None) -> tuple[str, bool]:
    """(path, whether it was asked for). The default is used only where a kubelet created it."""
    if explicit:
        return explicit, True
    if env := os.environ.get(PATH_ENV):
        return env, True
    return TERMINATION_MESSAGE_PATH, False


def write_termination_message(text: str, path: str | None = None) -> None:
    """Write `text` (at most MAX_BYTES) where the kubelet reads it; a failed write is only logged."""
    target, requested = termination_path(path)
    if not (requested or Path(target).exists()):
        return
    try:
        Path(target).write_bytes(text.encode()[:MAX_BYTES])
    except OSError as e:
        # Whoever calls says it elsewhere too (stdout, stderr): a failed write must not change the outcome.
        log.warning("cannot write the termination message to %s: %s", target, e)
