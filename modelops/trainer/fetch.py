"""Download a Dataset's `source.url` to a file without letting it become a request forgery tool.

Whoever may create a Dataset chooses the URL, and the prepare Job runs inside the cluster, next
to the cloud metadata service, the API server and every Service. So before each connection,
redirects included, the host is resolved and every address it resolves to must be public
(`ipaddress`'s "global"), unless the operator's `SourceLimits.allowed_hosts` names the host or a
network holding the address. The socket then connects to the very address that was checked, so a
second DNS answer cannot differ (rebinding). The body is streamed to disk under a size cap and one
deadline for the whole exchange; no byte of an answer ever reaches an error message (a refused
redirect's body, an error page), only status codes and the limits that applied.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from modelops.contract.jobs import SOURCE_ENV_PREFIX, SourceLimits
from modelops.trainer.errors import SourceError, TransientError

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_CHUNK = 1 << 16
_REDIRECTS = (301, 302, 303, 307, 308)
_USER_AGENT = "modelops-trainer"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RefusedTargetError(SourceError):
    """The URL (or a redirect) leads to an address a source may not reach."""


def _plain(address: Address) -> Address:
    """An IPv4 address written as IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_kind(address: Address) -> str | None:
    """Why a source may not reach `address` ("loopback", "link-local", ...), or None when it is public."""
    address = _plain(address)
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:  # 0.0.0.0 and :: reach this host itself
        return "unspecified"
    if address.is_private:
        return "private"
    if address.is_multicast or address.is_reserved or not address.is_global:
        return "non-public"
    return None


@dataclass(frozen=True)
class HostPolicy:
    """Which non-public targets the operator allowed: host names as written in URLs, or networks."""

    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> HostPolicy:
        names: set[str] = set()
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def refusal(self, host: str, address: Address) -> str | None:
        """Why `host` at `address` may not be reached, or None."""
        if host.lower().rstrip(".") in self.names or any(_plain(address) in net for net in self.networks):
            return None
        if (kind := address_kind(address)) is None:
            return None
        return (
            f"{host} resolves to a {kind} address; sources may only reach public addresses "
            f"(the operator can allow a host in {SOURCE_ENV_PREFIX}ALLOWED_HOSTS)"
        )


def resolve(host: str, port: int, policy: HostPolicy) -> str:
    """The address to connect to; every address `host` resolves to must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise TransientError(f"cannot resolve source host {host}: {e.strerror}") from e
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for address in addresses:
        if (why := policy.refusal(host, address)) is not None:
            raise RefusedTargetError(f"source URL refused: {why}")
    return str(addresses[0])


def check_endpoint(url: str, limits: SourceLimits) -> None:
    """Refuse a URL whose host resolves to an address a source may not reach (an `s3.endpoint`).

    The S3 client connects on its own, so this cannot pin the address as `download` does; it still
    closes the plain forms of the hole (metadata, loopback, cluster addresses named outright).
    """
    parts = urlsplit(url)
    if not parts.hostname:
        raise RefusedTargetError(f"endpoint refused: {url!r} has no host")
    resolve(
        parts.hostname,
        parts.port or (443 if parts.scheme == "https" else 80),
        HostPolicy.allowing(limits.allowed_hosts),
    )


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to an address already checked, whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Like `_PinnedHTTPConnection`, with TLS checked against the host name (SNI and certificate)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self, url: str) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TransientError(
                f"source URL {url} took longer than {self.seconds:g} s ({SOURCE_ENV_PREFIX}TIMEOUT_SECONDS)"
            )
        return left


def _open(url: str, policy: HostPolicy, deadline: _Deadline) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedTargetError(f"source URL refused: {url!r} is not an http(s) URL with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve(parts.hostname, port, policy)
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(parts.hostname, port, address, timeout=deadline.remaining(url))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection.request("GET", target, headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
    return connection


def _refuse_status(url: str, status: int) -> None:
    if status in (408, 429) or status >= 500:
        raise TransientError(f"source URL {url} answered HTTP {status}")
    raise SourceError(f"source URL {url} answered HTTP {status}")


def _too_large(url: str, limit: int) -> SourceError:
    return SourceError(f"source URL {url} is larger than {limit} bytes ({SOURCE_ENV_PREFIX}MAX_BYTES)")


def _stream(
    sock: socket.socket,
    response: http.client.HTTPResponse,
    url: str,
    into: Path,
    *,
    limit: int,
    deadline: _Deadline,
) -> int:
    declared = response.getheader("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(url, limit)
    written = 0
    with into.open("wb") as out:
        while True:
            # One deadline for the whole exchange: a server trickling a byte at a time cannot stretch it.
            sock.settimeout(deadline.remaining(url))
            chunk = response.read1(_CHUNK)
            if not chunk:
                return written
            written += len(chunk)
            if written > limit:
                raise _too_large(url, limit)
            out.write(chunk)


def download(url: str, into: Path, limits: SourceLimits) -> int:
    """Stream `url` into the file `into`, following at most MAX_REDIRECTS checked redirects; the bytes written."""
    policy = HostPolicy.allowing(limits.allowed_hosts)
    deadline = _Deadline(limits.timeout_seconds)
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            connection = _open(current, policy, deadline)
            # Kept here: the connection hands its socket over to a response that ends at close.
            sock = connection.sock
            try:
                response = connection.getresponse()
                if response.status in _REDIRECTS:
                    location = response.getheader("Location")
                    if not location:
                        raise SourceError(f"source URL {current} answered HTTP {response.status} without a Location")
                    current = urljoin(current, location)
                    log.info("source URL redirects (HTTP %d) to %s", response.status, urlsplit(current).hostname)
                    continue
                if not 200 <= response.status < 300:
                    _refuse_status(current, response.status)
                return _stream(sock, response, current, into, limit=limits.max_bytes, deadline=deadline)
            finally:
                connection.close()
    except (SourceError, TransientError):
        raise
    except ssl.SSLCertVerificationError as e:
        raise SourceError(f"source URL {current}: TLS certificate not trusted ({e.verify_message})") from e
    except TimeoutError as e:
        deadline.remaining(current)  # raises when the deadline, not one slow read, was the cause
        raise TransientError(f"source URL {current} timed out") from e
    except (OSError, http.client.HTTPException) as e:
        raise TransientError(f"cannot reach source URL {current}: {type(e).__name__}") from e
    raise SourceError(f"source URL {url} redirects more than {MAX_REDIRECTS} times")
