"""Slow and stalled clients: a deadline for headers and for bodies, and a budget for bodies in transit.

Without these, connections that stall mid-upload hold their partial bodies forever (40 of
them held 258 MB), inflate `requests_in_flight` (an HPA metric), and hold shutdown for the
whole grace period. So:

- headers: a connection gets `header_timeout_seconds` from its first byte of a request (or from
  connecting) to the end of that request's headers, then it is closed (`close_slow_headers`);
- bodies: a request gets `body_timeout_seconds` to send its whole body, then it is answered 408;
  the bytes of all bodies being received at once are capped by `max_pending_body_bytes` (503 with
  `Retry-After` beyond); on shutdown, new bodies are refused (503) and a body still arriving may
  finish only while it makes progress: one with no bytes for `STALL_SECONDS` is answered 503.

Nothing is done per request for this: a sweep over uvicorn's connections twice a second (from
the server's own tick) reads their state, and stops a body read by marking its request's scope
and waking its `receive()`. A timer or a task registry per request would cost more than
answering a small prediction. Deadlines are therefore kept to within the sweep's half second.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from modelops.serving.errors import PayloadTooLargeError, RequestTimeoutError, ServerBusyError, ServingError

STALL_SECONDS = 1.0  # during shutdown, an upload this long without a byte is stalled
SWEEP_SECONDS = 0.5
# Keys this module sets on a request's ASGI scope.
_STOP = "modelops.stop"  # the error its body read must raise
_RECEIVED = "modelops.received"  # bytes of its body read so far (progress, for the sweep)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


def _cycle(connection: object) -> Any:
    """uvicorn's request-response cycle of a connection (httptools protocol), if any."""
    return getattr(connection, "cycle", None)


def close_slow_headers(
    connections: Iterable[object], *, now: float, timeout: float, seen: MutableMapping[object, tuple[int, float]]
) -> int:
    """Close the connections that have been sending one request's headers for longer than `timeout`.

    A connection waits for headers when it has no request yet, or when its parser has begun a
    new header list that no request carries yet. `seen` remembers since when (per connection,
    per header list) across sweeps.
    """
    closed = 0
    for connection in list(connections):
        cycle = _cycle(connection)
        headers = getattr(connection, "headers", None)
        waiting = cycle is None or (headers is not None and cycle.scope.get("headers") is not headers)
        if not waiting:
            seen.pop(connection, None)
            continue
        marker = id(headers)
        since = seen.get(connection)
        if since is None or since[0] != marker:
            seen[connection] = (marker, now)
            continue
        transport = getattr(connection, "transport", None)
        if now - since[1] > timeout and transport is not None and not transport.is_closing():
            transport.close()
            closed += 1
    return closed


@dataclass
class _Watch:
    started: float
    progressed: float
    received: int


class BodyGuard:
    """Reads request bodies within the size limit, the deadline and the shared byte budget."""

    def __init__(self, *, max_body: int, timeout: float, budget: int) -> None:
        self.max_body = max_body
        self.timeout = timeout
        self.budget = budget
        self.pending_bytes = 0  # bytes of unfinished bodies held right now, over all requests
        self.closing = False
        self._watches: weakref.WeakKeyDictionary[object, _Watch] = weakref.WeakKeyDictionary()

    async def read(self, scope: MutableMapping[str, Any], declared: int | None, receive: Receive) -> bytes | None:
        """The whole body (`declared`: its Content-Length), or None if the client went away; 413, 408 or 503."""
        if self.closing:
            raise ServerBusyError("the server is shutting down")
        if declared is not None and declared > self.max_body:
            raise PayloadTooLargeError(f"request body of {declared} bytes is over the limit of {self.max_body} bytes")
        message = await receive()
        if message["type"] != "http.request":
            return None
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):  # the common case: the whole body at once
            if len(body) > self.max_body:
                raise PayloadTooLargeError(f"request body is over the limit of {self.max_body} bytes")
            return body
        chunks = [body]
        size = held = 0
        try:
            while True:
                chunk = chunks[-1]
                size += len(chunk)
                if size > self.max_body:
                    raise PayloadTooLargeError(f"request body is over the limit of {self.max_body} bytes")
                held += len(chunk)
                self._hold(len(chunk))
                scope[_RECEIVED] = size
                stop: ServingError | None = scope.get(_STOP)
                if stop is not None:
                    raise stop
                message = await receive()
                if message["type"] != "http.request":
                    return None
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    size += len(chunks[-1])
                    if size > self.max_body:
                        raise PayloadTooLargeError(f"request body is over the limit of {self.max_body} bytes")
                    return b"".join(chunks)
        finally:
            self.pending_bytes -= held

    def _hold(self, size: int) -> None:
        self.pending_bytes += size
        if self.pending_bytes > self.budget:
            raise ServerBusyError(
                f"too many request bodies are being received at once (over {self.budget} bytes); retry shortly"
            )

    def sweep(self, connections: Iterable[object], now: float) -> int:
        """Stop the body reads past their deadline (408) and, once shutting down, the stalled ones (503).

        Returns how many bodies are still arriving.
        """
        arriving = 0
        for connection in list(connections):
            cycle = _cycle(connection)
            if cycle is None or not cycle.more_body or cycle.response_complete or cycle.disconnected:
                continue
            arriving += 1
            received = cycle.scope.get(_RECEIVED, 0) + len(cycle.body)
            watch = self._watches.get(cycle)
            if watch is None:
                self._watches[cycle] = _Watch(started=now, progressed=now, received=received)
                continue
            if received != watch.received:
                watch.progressed, watch.received = now, received
            if now - watch.started > self.timeout:
                _stop(cycle, RequestTimeoutError(f"the request body was not received within {self.timeout:g} s"))
            elif self.closing and now - watch.progressed >= STALL_SECONDS:
                _stop(cycle, ServerBusyError("the server is shutting down and this upload stalled"))
        return arriving


def _stop(cycle: Any, error: ServingError) -> None:
    """Make the cycle's body read raise `error`: mark its scope, wake its `receive()`."""
    if _STOP not in cycle.scope:
        cycle.scope[_STOP] = error
        cycle.message_event.set()


async def drain(guard: BodyGuard, connections: Iterable[object], *, interval: float = 0.1) -> None:
    """Shutting down: refuse new bodies; wait for those arriving, stopping each as it stalls."""
    guard.closing = True
    while guard.sweep(connections, time.monotonic()):
        await asyncio.sleep(interval)
