"""Startup and shutdown of the real process: tampered artifacts refused, SIGTERM drains."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .serving_server import StartServer, TrainedModel


def _copy_version(model: TrainedModel, tmp_path: Path) -> Path:
    source = Path(urlsplit(model.uri).path)
    target = tmp_path / "store" / "models" / model.name / model.version
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize("file", ["model.skops", "model.onnx"])
def test_a_tampered_artifact_is_refused_and_the_process_exits_1_saying_why(
    start_server: StartServer, cancer_model: TrainedModel, tmp_path: Path, file: str
) -> None:
    version = _copy_version(cancer_model, tmp_path)
    with (version / file).open("ab") as handle:
        handle.write(b"\x00")

    server = start_server("--model-uri", f"file://{version}", wait=False)

    assert server.process.wait(timeout=60) == 1
    output = server.output()
    assert f"{file} in file://{version} does not match its recorded sha256" in output
    assert "refusing to load it" in output


def test_a_missing_version_is_refused_the_same_way(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server("--model-uri", f"file://{tmp_path}/store/models/nothing/v1", wait=False)

    assert server.process.wait(timeout=60) == 1
    assert "cannot serve" in server.output() and "no complete model version" in server.output()


def test_sigterm_stops_accepting_lets_an_upload_in_progress_finish_and_exits_0(
    start_server: StartServer, cancer_model: TrainedModel
) -> None:
    server = start_server("--model-uri", cancer_model.uri)
    body = json.dumps(
        {"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", "data": [1.0] * 30}]}
    ).encode()
    head = (
        f"POST /v2/models/{cancer_model.name}/infer HTTP/1.1\r\nHost: test\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        # Headers and part of the body: the upload is in progress when SIGTERM arrives, and goes on
        # slowly (a few bytes every 0.2 s, never stalling) for longer than a stall would be allowed.
        client.sendall(head + body[:40])
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        for start in range(40, 100, 10):
            time.sleep(0.2)
            client.sendall(body[start : start + 10])

        assert server.process.poll() is None, "exited before the upload in progress finished"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()

        client.sendall(body[100:])
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            chunk = client.recv(65536)
            if not chunk:
                break
            response += chunk
    finally:
        client.close()

    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert b'"model_name":"cancer-rf"' in response
    assert server.process.wait(timeout=30) == 0
    assert "shut down gracefully" in server.output()
