"""The one place where failures become kopf outcomes: retry later, or give up.

Handlers raise whatever happens; `outcomes()` decides. Conflicts, throttling and server
trouble pass with time (TemporaryError with a delay); a request the API server refuses
as invalid or forbidden will be refused again (PermanentError, logged once). Anything else
is a bug: logged with its traceback here (kopf logs a PermanentError without one), then
given up on, since retrying in a tight loop would only flood the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import kopf
import urllib3.exceptions

from modelops.operator.kube import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    KubeError,
    NotFoundError,
    TooManyRequestsError,
)

log = logging.getLogger("modelops.operator")

CONFLICT_DELAY = 1.0
SERVER_DELAY = 10.0
NETWORK_DELAY = 5.0


def classify(error: BaseException) -> kopf.TemporaryError | kopf.PermanentError:
    """The kopf outcome of a failure."""
    if isinstance(error, ConflictError):
        return kopf.TemporaryError(str(error), delay=CONFLICT_DELAY)
    if isinstance(error, BadRequestError | ForbiddenError | NotFoundError | InvalidError):
        return kopf.PermanentError(str(error))
    if isinstance(error, TooManyRequestsError | KubeError):
        return kopf.TemporaryError(str(error), delay=SERVER_DELAY)
    if isinstance(error, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return kopf.TemporaryError(f"API server unreachable: {error}", delay=NETWORK_DELAY)
    return kopf.PermanentError(f"{type(error).__name__}: {error}")


@contextmanager
def outcomes() -> Iterator[None]:
    """Wrap a handler's body: kopf's own errors pass, every other one is classified."""
    try:
        yield
    except (kopf.TemporaryError, kopf.PermanentError):
        raise
    except Exception as error:
        outcome = classify(error)
        if isinstance(outcome, kopf.PermanentError) and not isinstance(error, KubeError):
            log.exception("unexpected error while reconciling")
        raise outcome from error
