"""#9.3: a URL source is no request-forgery primitive: non-public targets are refused after DNS and
after every redirect, downloads are capped in size and time and streamed to disk.

Targets that must never be reached (cloud metadata, private networks) are only ever named, never
contacted: an audit hook sees every `socket.connect` the download attempts, and must see none.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK, EXIT_TRANSIENT, SourceLimits
from modelops.trainer.errors import SourceError
from modelops.trainer.fetch import RefusedTargetError, address_kind, download

from .conftest import Trainer, error_of, prepare
from .servers import body, redirect, serve, stream, trickle

METADATA_SECRET = b"iam-role-credentials-7d1e"
CSV = b"x,label\n" + b"".join(f"{i},{i % 2}\n".encode() for i in range(60))
# Loopback addresses standing for "an allowed internal host" and "a forbidden one", both on this machine.
ALLOWED, FORBIDDEN = "127.0.0.2", "127.0.0.3"


class _Connections:
    """Addresses the code under test tried to connect to (Python's audit events, never removed)."""

    active = False
    seen: list[Any] = []  # noqa: RUF012  the one shared record

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if cls.active and event == "socket.connect":
            cls.seen.append(args[1])


sys.addaudithook(_Connections.hook)


@pytest.fixture
def connections() -> Iterator[list[Any]]:
    _Connections.seen = []
    _Connections.active = True
    try:
        yield _Connections.seen
    finally:
        _Connections.active = False


def _url_spec(url: str) -> dict[str, Any]:
    return {"source": {"url": {"url": url, "format": "csv"}}, "target": "label"}


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://10.0.0.1/data.csv", "private"),
        ("http://192.168.1.1/data.csv", "private"),
        ("http://[fd00::1]/data.csv", "private"),
        ("http://100.64.0.1/data.csv", "non-public"),
        ("http://0.0.0.0:8080/data.csv", "unspecified"),
        ("http://[::ffff:127.0.0.1]/data.csv", "loopback"),
        ("https://localhost/data.csv", "loopback"),
    ],
)
def test_non_public_targets_are_refused_before_any_connection(
    url: str, kind: str, tmp_path: Path, connections: list[Any]
) -> None:
    with pytest.raises(RefusedTargetError, match=f"resolves to a {kind} address"):
        download(url, tmp_path / "out", SourceLimits())

    assert connections == []
    assert not (tmp_path / "out").exists()


def test_a_loopback_server_is_never_asked(trainer: Trainer, store_uri: str) -> None:
    with serve("127.0.0.1", body(CSV)) as server:
        probe = prepare(trainer, store_uri, _url_spec(server.url("/data.csv")))

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert "resolves to a loopback address" in error_of(probe)
    assert "MODELOPS_SOURCE_ALLOWED_HOSTS" in error_of(probe)
    assert server.requests == []


def test_a_host_the_operator_allows_is_fetched(trainer: Trainer, store_uri: str) -> None:
    with serve(ALLOWED, body(CSV)) as server:
        ok = prepare(
            trainer, store_uri, _url_spec(server.url("/data.csv")), env={"MODELOPS_SOURCE_ALLOWED_HOSTS": ALLOWED}
        )

    assert ok.run.returncode == EXIT_OK, ok.run.stderr
    assert ok.run.result["rows"] == 60 and server.requests == ["/data.csv"]


def test_a_redirect_to_a_metadata_style_endpoint_is_refused_and_its_body_never_read(
    trainer: Trainer, store_uri: str
) -> None:
    with (
        serve(FORBIDDEN, body(METADATA_SECRET)) as metadata,
        serve(ALLOWED, redirect(metadata.url("/latest/meta-data/"))) as allowed,
    ):
        probe = prepare(
            trainer, store_uri, _url_spec(allowed.url("/data.csv")), env={"MODELOPS_SOURCE_ALLOWED_HOSTS": ALLOWED}
        )

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert f"{FORBIDDEN} resolves to a loopback address" in error_of(probe)
    assert metadata.requests == [] and allowed.requests == ["/data.csv"]
    assert METADATA_SECRET.decode() not in probe.run.stdout + probe.run.stderr


def test_a_redirect_to_cloud_metadata_is_refused_before_connecting_to_it(
    tmp_path: Path, connections: list[Any]
) -> None:
    with serve(ALLOWED, redirect("http://169.254.169.254/latest/meta-data/")) as allowed:
        with pytest.raises(RefusedTargetError, match=r"169\.254\.169\.254 resolves to a link-local address"):
            download(allowed.url("/data.csv"), tmp_path / "out", SourceLimits(allowed_hosts=[ALLOWED]))

    assert {address[0] for address in connections} == {ALLOWED}


def test_an_allowed_network_admits_its_addresses_only(tmp_path: Path, connections: list[Any]) -> None:
    limits = SourceLimits(allowed_hosts=["127.0.0.2/32"])
    with serve(ALLOWED, body(CSV)) as allowed, serve(FORBIDDEN, body(CSV)) as forbidden:
        assert download(allowed.url(), tmp_path / "a", limits) == len(CSV)
        with pytest.raises(RefusedTargetError):
            download(forbidden.url(), tmp_path / "b", limits)

    assert forbidden.requests == []


def test_endless_redirects_stop(tmp_path: Path) -> None:
    with serve(ALLOWED, redirect("/again")) as loop:
        with pytest.raises(SourceError, match="redirects more than 5 times"):
            download(loop.url(), tmp_path / "out", SourceLimits(allowed_hosts=[ALLOWED]))

    assert len(loop.requests) == 6


def test_an_oversized_download_is_cut_at_the_cap_with_bounded_memory(trainer: Trainer, store_uri: str) -> None:
    cap = 4 * 1024 * 1024
    with serve(ALLOWED, stream(limit=200 * 1024 * 1024)) as server:
        probe = prepare(
            trainer,
            store_uri,
            _url_spec(server.url("/big.csv")),
            env={"MODELOPS_SOURCE_ALLOWED_HOSTS": ALLOWED, "MODELOPS_SOURCE_MAX_BYTES": str(cap)},
        )

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert (
        error_of(probe) == f"source URL {server.url('/big.csv')} is larger than {cap} bytes (MODELOPS_SOURCE_MAX_BYTES)"
    )
    # A 200 MB body used to be held in memory (2 GB peak); the trainer's own footprint is ~150 MiB.
    assert probe.peak_rss_mib < 300


def test_a_declared_length_over_the_cap_is_refused_before_the_body(tmp_path: Path) -> None:
    limits = SourceLimits(allowed_hosts=[ALLOWED], max_bytes=1000)
    with serve(ALLOWED, stream(limit=64 * 1024, declare=10**12)) as server:
        with pytest.raises(SourceError, match="is larger than 1000 bytes"):
            download(server.url(), tmp_path / "out", limits)

    assert not (tmp_path / "out").exists()


def test_a_trickling_server_cannot_stretch_the_download_past_its_deadline(trainer: Trainer, store_uri: str) -> None:
    with serve(ALLOWED, trickle(seconds=30)) as server:
        probe = prepare(
            trainer,
            store_uri,
            _url_spec(server.url("/slow.csv")),
            env={"MODELOPS_SOURCE_ALLOWED_HOSTS": ALLOWED, "MODELOPS_SOURCE_TIMEOUT_SECONDS": "2"},
        )

    assert probe.run.returncode == EXIT_TRANSIENT
    assert "took longer than 2 s (MODELOPS_SOURCE_TIMEOUT_SECONDS)" in error_of(probe)
    assert probe.seconds < 15


def test_an_error_page_is_never_quoted(trainer: Trainer, store_uri: str) -> None:
    with serve(ALLOWED, body(METADATA_SECRET, status=403)) as server:
        probe = prepare(trainer, store_uri, _url_spec(server.url()), env={"MODELOPS_SOURCE_ALLOWED_HOSTS": ALLOWED})

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert error_of(probe) == f"source URL {server.url()} answered HTTP 403"


def test_an_s3_endpoint_in_the_spec_is_held_to_the_same_rule(tmp_path: Path, connections: list[Any]) -> None:
    from modelops.api.dataset import S3Source
    from modelops.trainer.sources import read_s3

    source = S3Source(bucket="creds", key="latest/meta-data", endpoint="http://169.254.169.254")

    with pytest.raises(RefusedTargetError, match="resolves to a link-local address"):
        read_s3(source, tmp_path, SourceLimits())
    assert connections == []


def test_only_global_addresses_count_as_public() -> None:
    import ipaddress

    assert address_kind(ipaddress.ip_address("93.184.216.34")) is None
    assert address_kind(ipaddress.ip_address("2606:4700::1111")) is None
    assert address_kind(ipaddress.ip_address("127.0.0.1")) == "loopback"
    assert address_kind(ipaddress.ip_address("::ffff:169.254.169.254")) == "link-local"
