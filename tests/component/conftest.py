"""Fixtures shared by the component tests: a real S3-compatible server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelops.testing.s3server import S3Server, start_s3_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_s3_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The server's endpoint and credentials in this process's environment (for in-process calls)."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server.env
