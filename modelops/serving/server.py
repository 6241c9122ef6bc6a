"""The process's servers: uvicorn for HTTP, with gRPC beside it on the same event loop.

`ServingServer` is uvicorn's server plus what a model server in a pod needs from it:

- the gRPC server starts once HTTP has bound, and stops with it;
- twice a second (on uvicorn's own tick) connections slow to send their headers are closed and
  bodies past their deadline answered 408 (`guard`);
- shutdown (SIGTERM): accept what is already queued, stop accepting, let bytes already sent on
  open connections be read (a request sent just before the signal is answered, not reset: closing
  a listener resets the connections still in its backlog), close idle connections, let
  uploads finish while they progress (a stalled one is answered 503 after a second, not after the
  grace period), let the requests in flight finish within the grace period, stop gRPC the same
  way. No traceback: nothing is left to be cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import weakref

import uvicorn

from modelops.serving.asgi import ServingASGI
from modelops.serving.grpc_service import GrpcServer
from modelops.serving.guard import SWEEP_SECONDS, close_slow_headers, drain

log = logging.getLogger("modelops.serving")

_SWEEP_TICKS = round(SWEEP_SECONDS / 0.1)  # uvicorn ticks every 0.1 s
# Before and after the listeners close: how long connections already queued get to be accepted,
# and bytes already sent on open connections to be read.
_SETTLE_SECONDS = 0.1


class ServingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: ServingASGI) -> None:
        super().__init__(config)
        self.app = app
        self.grpc: GrpcServer | None = None
        self.failure: str | None = None
        # Since when each connection has been sending one request's headers (see guard.close_slow_headers).
        self._headers_since: weakref.WeakKeyDictionary[object, tuple[int, float]] = weakref.WeakKeyDictionary()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit:
            return  # HTTP could not bind; uvicorn logged why
        settings = self.app.service.settings
        try:
            self.grpc = GrpcServer(
                self.app.service,
                host=settings.host,
                port=settings.grpc_port,
                max_message_bytes=settings.max_body_bytes,
            )
        except RuntimeError as e:
            self.failure = f"cannot serve gRPC on port {settings.grpc_port}: {e}"
            log.error("%s", self.failure)
            self.should_exit = True
            return
        await self.grpc.start()
        log.info("gRPC (OIP V2, grpc.health.v1) on %s:%d", settings.host, self.grpc.port)

    async def on_tick(self, counter: int) -> bool:
        if counter % _SWEEP_TICKS == 0:
            now = time.monotonic()
            connections = self.server_state.connections
            timeout = self.app.service.settings.header_timeout_seconds
            close_slow_headers(connections, now=now, timeout=timeout, seen=self._headers_since)
            self.app.guard.sweep(connections, now)
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        grace = float(self.config.timeout_graceful_shutdown or 0)
        await asyncio.sleep(_SETTLE_SECONDS)
        for server in getattr(self, "servers", []):
            server.close()
        stopping = asyncio.ensure_future(self.grpc.stop(grace)) if self.grpc is not None else None
        await asyncio.sleep(_SETTLE_SECONDS)
        uploads = asyncio.ensure_future(drain(self.app.guard, self.server_state.connections))
        await super().shutdown(sockets)
        uploads.cancel()
        if stopping is not None:
            await stopping
