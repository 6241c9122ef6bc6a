"""The one place where failures become kopf outcomes: retry later, or give up.

Handlers raise whatever happens; `outcomes()` decides. Conflicts, throttling and server
trouble pass with time (TemporaryError with a delay); a request the API server refuses
as invalid or forbidden will be refused again (PermanentError, logged once).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import kopf
import urllib3.exceptions

from modelops.operator.kube import KubeError

CONFLICT_DELAY = 1.0
SERVER_DELAY = 10.0
NETWORK_DELAY = 5.0


class ReconcileError(Exception):
    """A known reason the object cannot be reconciled now; it is in its status."""


def classify(error: BaseException) -> kopf.TemporaryError | kopf.PermanentError:
    """The kopf outcome of a failure."""
    if isinstance(error, KubeError):
        if error.status in (409, 429) or error.status >= 500:
            delay = CONFLICT_DELAY if error.status == 409 else SERVER_DELAY
            return kopf.TemporaryError(str(error), delay=delay)
        if error.status in (400, 403, 404, 422):
            return kopf.PermanentError(str(error))
        return kopf.TemporaryError(str(error), delay=SERVER_DELAY)
    if isinstance(error, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return kopf.TemporaryError(f"API server unreachable: {error}", delay=NETWORK_DELAY)
    if isinstance(error, ReconcileError):
        return kopf.TemporaryError(str(error), delay=SERVER_DELAY)
    # A bug: retrying will not fix it, and a tight retry loop floods the log.
    return kopf.PermanentError(f"{type(error).__name__}: {error}")


@contextmanager
def outcomes() -> Iterator[None]:
    """Wrap a handler's body: kopf's own errors pass, every other one is classified."""
    try:
        yield
    except (kopf.TemporaryError, kopf.PermanentError):
        raise
    except Exception as error:
        raise classify(error) from error
