"""Small real HTTP servers on loopback addresses, each recording the requests it received.

Every answer is bounded: a stream stops after `limit` bytes, a trickle after `seconds`, so no test
can leave a server sending forever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Respond = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Server:
    host: str
    port: int
    requests: list[str] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"


@contextmanager
def serve(host: str, respond: Respond) -> Iterator[Server]:
    """A threading HTTP server on `host` (any 127.x.y.z) and a free port, answering with `respond`."""
    record: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record.append(self.path)
            try:
                respond(self)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as a refusing client should

        def log_message(self, format: str, *args: object) -> None:
            return None

    httpd = ThreadingHTTPServer((host, 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(host, httpd.server_address[1], record)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def body(content: bytes, status: int = 200) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    return respond


def redirect(location: str, status: int = 302) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


def stream(limit: int, *, declare: int | None = None) -> Respond:
    """CSV rows up to `limit` bytes, without a length (or declaring `declare` bytes)."""
    row = b"1,2,3,4,5,6,7,8\n" * 4096

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if declare is not None:
            handler.send_header("Content-Length", str(declare))
        handler.end_headers()
        handler.wfile.write(b"a,b,c,d,e,f,g,h\n")
        sent = 0
        while sent < limit:
            handler.wfile.write(row)
            sent += len(row)

    return respond


def trickle(seconds: float) -> Respond:
    """One byte every 0.1 s for at most `seconds`: each read is quick, the whole never ends in time."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            handler.wfile.write(b"1")
            handler.wfile.flush()
            time.sleep(0.1)

    return respond
