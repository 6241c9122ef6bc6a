"""Slow and stalled clients: a deadline for headers and for bodies, and a budget for bodies in transit.

Without these, connections that stall mid-upload hold their partial bodies forever (40 of
them held 258 MB), inflate `requests_in_flight` (an HPA metric), and hold shutdown for the
whole grace period. So:

- headers: a connection gets `header_timeout_seconds` from its first byte of a request (or from
  connecting) to the end of that request's headers, then it is closed (`GuardedHttpToolsProtocol`);
- bodies: a request gets `body_timeout_seconds` to send its whole body, then it is answered 408;
  the bytes of all bodies being received at once are capped by `max_pending_body_bytes` (503 with
  `Retry-After` beyond); on shutdown, new bodies are refused (503) and a body still arriving may
  finish only while it makes progress: one with no bytes for `STALL_SECONDS` is answered 503.

Deadlines are checked by a sweep twice a second (`sweep`, run from the server's tick), not by a
timer per request: a timer costs more than answering a small prediction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelops.serving.errors import PayloadTooLargeError, RequestTimeoutError, ServerBusyError

STALL_SECONDS = 1.0  # during shutdown, an upload this long without a byte is stalled

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, recording since when it waits for a request's headers."""

    headers_since: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.headers_since = time.monotonic()
        super().connection_made(transport)

    def on_message_begin(self) -> None:
        self.headers_since = time.monotonic()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self.headers_since = None
        super().on_headers_complete()


def close_slow_headers(connections: Iterable[object], *, now: float, timeout: float) -> int:
    """Close the connections that have been sending one request's headers for longer than `timeout`."""
    closed = 0
    for connection in list(connections):
        since = getattr(connection, "headers_since", None)
        transport = getattr(connection, "transport", None)
        if since is not None and now - since > timeout and transport is not None and not transport.is_closing():
            transport.close()
            closed += 1
    return closed


class BodyGuard:
    """Reads request bodies within the size limit, the deadline and the shared byte budget."""

    def __init__(self, *, max_body: int, timeout: float, budget: int) -> None:
        self.max_body = max_body
        self.timeout = timeout
        self.budget = budget
        self.pending_bytes = 0  # bytes of unfinished bodies held right now, over all requests
        self.closing = False
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        self._progress: dict[asyncio.Task[Any], float] = {}  # when each read last received bytes
        self._stopped: dict[asyncio.Task[Any], Exception] = {}

    async def read(self, declared: int | None, receive: Receive) -> bytes | None:
        """The whole body (`declared`: its Content-Length), or None if the client went away; 413, 408 or 503."""
        if self.closing:
            raise ServerBusyError("the server is shutting down")
        if declared is not None and declared > self.max_body:
            raise PayloadTooLargeError(f"request body of {declared} bytes is over the limit of {self.max_body} bytes")
        task = asyncio.current_task()
        assert task is not None
        started = time.monotonic()
        self._deadlines[task] = started + self.timeout
        self._progress[task] = started
        held = 0
        try:
            message = await receive()
            if message["type"] != "http.request":
                return None
            body: bytes = message.get("body", b"")
            if not message.get("more_body", False):
                if len(body) > self.max_body:
                    raise PayloadTooLargeError(f"request body is over the limit of {self.max_body} bytes")
                return body
            chunks = [body]
            size = held = len(body)
            self._hold(held)
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return None
                chunk = message.get("body", b"")
                self._progress[task] = time.monotonic()
                size += len(chunk)
                if size > self.max_body:
                    raise PayloadTooLargeError(f"request body is over the limit of {self.max_body} bytes")
                held += len(chunk)
                self._hold(len(chunk))
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        except asyncio.CancelledError:
            reason = self._stopped.pop(task, None)
            if reason is None:
                raise
            task.uncancel()
            raise reason from None
        finally:
            self._deadlines.pop(task, None)
            self._progress.pop(task, None)
            self.pending_bytes -= held

    def _hold(self, size: int) -> None:
        self.pending_bytes += size
        if self.pending_bytes > self.budget:
            raise ServerBusyError(
                f"too many request bodies are being received at once (over {self.budget} bytes); retry shortly"
            )

    def _stop(self, task: asyncio.Task[Any], reason: Exception) -> None:
        if task not in self._stopped:
            self._stopped[task] = reason
            task.cancel()

    @property
    def reading(self) -> int:
        """Bodies being received right now."""
        return len(self._deadlines)

    def sweep(self, now: float) -> None:
        """Stop the body reads past their deadline (408) and, once shutting down, the stalled ones (503)."""
        for task, deadline in list(self._deadlines.items()):
            if now > deadline:
                self._stop(task, RequestTimeoutError(f"the request body was not received within {self.timeout:g} s"))
            elif self.closing and now - self._progress.get(task, now) >= STALL_SECONDS:
                self._stop(task, ServerBusyError("the server is shutting down and this upload stalled"))

    async def drain(self, interval: float = 0.1) -> None:
        """Shutting down: refuse new bodies; wait for those arriving, stopping each as it stalls."""
        self.closing = True
        while self._deadlines:
            self.sweep(time.monotonic())
            await asyncio.sleep(interval)
