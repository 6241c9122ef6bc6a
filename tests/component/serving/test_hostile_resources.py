"""Hostile load against the real server (issue #9: 4a, 8, 9): memory stays bounded, nothing hangs.

Peak memory is the server process's own high-water mark (VmHWM, no cgroup needed), compared
with its resident size when idle. Every loop here is bounded in count and time, and all traffic
stays on loopback.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .serving_server import Server, StartServer, TrainedModel

MIB = 1024 * 1024
# What an attack may add to the server's idle memory. Before the fixes: +1,080 MB for 8 MiB of
# `{}`, +240 MB for 40 stalled uploads (the chart's limit is 1 GiB).
HEADROOM = 120 * MIB
ROW = [1.0] * 30


def resident_bytes(server: Server) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@contextmanager
def raw_connection(server: Server) -> Iterator[socket.socket]:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        yield connection
    finally:
        connection.close()


def head(path: str, length: int) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_status(connection: socket.socket, timeout: float) -> str:
    """The status of one whole response read from `connection`; "closed" or "reset" if it answered none."""
    connection.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(4096)
            if not chunk:
                return "closed"
            data += chunk
        header, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in header.lower().split(b"\r\n") if line.startswith(b"content-length")
        )
        while len(body) < length:
            chunk = connection.recv(4096)
            if not chunk:
                return "closed"
            body += chunk
    except ConnectionResetError:
        return "reset"
    return header[9:12].decode()


def test_millions_of_empty_objects_are_refused_before_they_are_built(
    start_server: StartServer, cancer_model: TrainedModel
) -> None:
    server = start_server("--model-uri", cancer_model.uri)  # the default 8 MiB body limit
    idle = resident_bytes(server)
    empties = b'{"instances": [' + b"{}," * ((8 * MIB - 64) // 3) + b"{}]}"
    lists = (
        b'{"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": ['
        + b"[]," * ((8 * MIB - 128) // 3)
        + b"[]]}]}"
    )

    with httpx.Client(base_url=server.url, timeout=60) as client:
        predict = client.post("/predict", content=empties)
        infer = client.post(f"/v2/models/{cancer_model.name}/infer", content=lists)
        good = client.post("/predict", json={"instances": [ROW]})

    assert predict.status_code == infer.status_code == 413
    assert "JSON objects and arrays, more than a request of at most 10000 rows needs" in predict.json()["error"]
    assert good.status_code == 200
    peak = server.peak_resident_bytes()
    assert server.stop() == 0
    assert peak < idle + HEADROOM, (idle // MIB, peak // MIB)


def test_stalled_uploads_are_capped_timed_out_and_not_counted_in_flight(
    start_server: StartServer, cancer_model: TrainedModel
) -> None:
    settings = {"MODELOPS_SERVING_BODY_TIMEOUT_SECONDS": "2", "MODELOPS_SERVING_HEADER_TIMEOUT_SECONDS": "1"}
    server = start_server("--model-uri", cancer_model.uri, env=settings)
    idle = resident_bytes(server)
    stalled: list[socket.socket] = []
    try:
        # 40 uploads announce 8 MiB, send 6 MiB, and stall. Past the budget the server answers 503
        # and closes at once, so some uploads are cut short while sending (a reset or a broken
        # pipe, whichever the kernel reports first).
        for _ in range(40):
            connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            stalled.append(connection)
            try:
                connection.sendall(head("/predict", 8 * MIB - 1024) + b" " * (6 * MIB))
            except (ConnectionResetError, BrokenPipeError):
                pass
        in_flight = next(
            line for line in httpx.get(f"{server.url}/metrics").text.splitlines()
            if line.startswith("modelops_requests_in_flight ")
        )  # fmt: skip
        statuses = [read_status(connection, timeout=5) for connection in stalled]
    finally:
        for connection in stalled:
            connection.close()

    assert in_flight == "modelops_requests_in_flight 0.0"  # stalled uploads are not in flight, nor is the scrape
    assert set(statuses) <= {"408", "503", "reset"} and "408" in statuses, statuses
    assert statuses.count("408") <= 8, statuses  # the budget: 32 MiB holds five 6 MiB uploads
    peak = server.peak_resident_bytes()
    assert server.stop() == 0
    assert peak < idle + HEADROOM, (idle // MIB, peak // MIB)


def test_a_client_slow_to_send_its_headers_is_disconnected(
    start_server: StartServer, cancer_model: TrainedModel
) -> None:
    server = start_server("--model-uri", cancer_model.uri, env={"MODELOPS_SERVING_HEADER_TIMEOUT_SECONDS": "1"})

    with raw_connection(server) as connection:
        connection.sendall(b"POST /predict HTTP/1.1\r\nHost: test\r\n")
        assert read_status(connection, timeout=5) == "closed"


def test_shutdown_answers_a_request_sent_just_before_it_and_does_not_wait_for_a_stalled_upload(
    start_server: StartServer, cancer_model: TrainedModel
) -> None:
    server = start_server("--model-uri", cancer_model.uri)  # 25 s of grace by default
    body = json.dumps({"instances": [ROW]}).encode()
    with raw_connection(server) as stalled, raw_connection(server) as keep_alive, raw_connection(server) as late:
        stalled.sendall(head("/predict", 100_000) + b" " * 1000)
        keep_alive.sendall(head("/predict", len(body)) + body)
        assert read_status(keep_alive, timeout=10) == "200"
        time.sleep(0.2)

        keep_alive.sendall(head("/predict", len(body)) + body)
        late.sendall(head("/predict", len(body)) + body)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        answers = [read_status(c, timeout=10) for c in (keep_alive, late, stalled)]
        code = server.wait(timeout=30)

    assert answers == ["200", "200", "503"]
    assert code == 0 and time.monotonic() - started < 5
    assert "Traceback" not in server.output()
