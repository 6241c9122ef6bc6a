"""Versioned artifact storage addressed by URI: file://, pvc:// and s3://.

Layout under a store's root: one prefix per Kubernetes namespace (`namespace_root`), and under
it `datasets/<name>/<version>/...` and `models/<name>/<version>/...`, so two namespaces with
the same names never share an artifact. A version is written once and is complete only
when its `_COMPLETE` marker exists; the marker is written last (s3) or the
whole directory appears by one rename (local filesystems), so a reader never
sees half a version as complete. Versions are content-addressed by their
writers, so writing an existing complete version keeps its files and only
refreshes its completion time: "latest" is the version written last.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fsspec
from fsspec.implementations.local import LocalFileSystem

from modelops.artifacts.errors import (
    ArtifactNotFoundError,
    InvalidArtifactURIError,
    StorageAccessDeniedError,
    StorageLayoutError,
    StorageUnavailableError,
)

COMPLETE_MARKER = "_COMPLETE"
# A local writer builds a version in `.tmp-<version>-<random>` next to it and renames it in place;
# one killed meanwhile leaves the directory behind. The next write beside it removes those older
# than this: no live writer takes an hour between two files.
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600.0
ARTIFACT_KINDS = ("datasets", "models")
_COPY_BLOCK = 1 << 20
ENDPOINT_ENV_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "S3_ENDPOINT_URL")


def s3_endpoint_from_env() -> str | None:
    """The S3 endpoint the environment names, if any (first of ENDPOINT_ENV_VARS)."""
    for var in ENDPOINT_ENV_VARS:
        if value := os.environ.get(var):
            return value
    return None


def s3_filesystem(*, endpoint_url: str | None = None, **storage_options: Any) -> fsspec.AbstractFileSystem:
    """An s3fs filesystem for any S3-compatible server; credentials come from the AWS env vars."""
    endpoint = endpoint_url or s3_endpoint_from_env()
    options: dict[str, Any] = {
        # Listings are cached per instance by default, which would hide a version
        # another process completed after we first looked.
        "use_listings_cache": False,
        "skip_instance_cache": True,
    }
    if endpoint:
        options["endpoint_url"] = endpoint
    options.update(storage_options)
    return fsspec.filesystem("s3", **options)


@contextlib.contextmanager
def translate_errors(uri: str) -> Iterator[None]:
    """Map filesystem/network exceptions to the artifact error hierarchy."""
    try:
        yield
    except (ArtifactNotFoundError, StorageAccessDeniedError, StorageLayoutError, StorageUnavailableError):
        raise
    except FileNotFoundError as e:
        raise ArtifactNotFoundError(f"not found: {uri}") from e
    except (NotADirectoryError, IsADirectoryError, FileExistsError) as e:
        # A file where the layout needs a directory (or the reverse): the same on every retry.
        raise StorageLayoutError(f"the store's layout is broken at {uri}: {e.strerror}: {e.filename}") from e
    except PermissionError as e:
        raise StorageAccessDeniedError(f"access denied to {uri}: {e}") from e
    except (OSError, TimeoutError) as e:
        raise StorageUnavailableError(f"storage error on {uri}: {e}") from e
    except Exception as e:
        # botocore's connection errors do not derive from OSError.
        if type(e).__module__.startswith(("botocore", "aiobotocore", "aiohttp")):
            raise StorageUnavailableError(f"storage error on {uri}: {e}") from e
        raise


# A Kubernetes namespace name (DNS-1123 label): also a safe single path segment.
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def namespace_root(store_uri: str, namespace: str) -> str:
    """The root URI of one namespace's artifacts inside the store at `store_uri`."""
    if not _NAMESPACE.match(namespace):
        raise InvalidArtifactURIError(f"{namespace!r} is not a namespace name")
    return f"{store_uri.rstrip('/')}/{namespace}"


def _check_relpath(relpath: str) -> str:
    """Normalise a path inside the store, refusing any that climbs out of it."""
    stripped = relpath.strip("/")
    if not stripped:
        return ""
    clean = posixpath.normpath(stripped)
    if clean == ".." or clean.startswith("../"):
        raise InvalidArtifactURIError(f"relative path escapes the store: {relpath!r}")
    return "" if clean == "." else clean


class ArtifactStore:
    """A root URI plus the fsspec filesystem that serves it."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, root_uri: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/") or "/"
        self.root_uri = root_uri.rstrip("/")

    @classmethod
    def from_uri(
        cls,
        root_uri: str,
        *,
        endpoint_url: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> ArtifactStore:
        """Open `file:///path`, `pvc://<mounted path>`, a plain path, or `s3://bucket/prefix`."""
        parts = urlsplit(root_uri)
        scheme = parts.scheme.lower()
        local = _local_path(root_uri)
        if local is not None:
            path = str(Path(local).resolve())
            return cls(LocalFileSystem(), path, f"{scheme or 'file'}://{path}")
        if scheme in ("s3", "s3a"):
            if not parts.netloc:
                raise InvalidArtifactURIError(f"s3 URI needs a bucket: {root_uri!r}")
            fs = s3_filesystem(endpoint_url=endpoint_url, **dict(storage_options or {}))
            root = f"{parts.netloc}/{parts.path.strip('/')}".rstrip("/")
            return cls(fs, root, f"s3://{root}")
        raise InvalidArtifactURIError(
            f"unsupported artifact store scheme {scheme!r} in {root_uri!r} (use file://, pvc:// or s3://)"
        )

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def _path(self, relpath: str) -> str:
        rel = _check_relpath(relpath)
        return f"{self.root}/{rel}" if rel else self.root

    def uri(self, relpath: str = "") -> str:
        rel = _check_relpath(relpath)
        return f"{self.root_uri}/{rel}" if rel else self.root_uri

    def copy_to(self, relpath: str, into: Path) -> str:
        """Copy a stored file to the local file `into`, a block at a time; the sha256 hex of what was copied.

        What is checked is what was copied: nothing reads the stored file again afterwards.
        """
        digest = hashlib.sha256()
        with translate_errors(self.uri(relpath)), self.fs.open(self._path(relpath), "rb") as source:
            with into.open("wb") as out:
                while block := source.read(_COPY_BLOCK):
                    digest.update(block)
                    out.write(block)
        return digest.hexdigest()

    def read_bytes(self, relpath: str) -> bytes:
        with translate_errors(self.uri(relpath)):
            data: bytes = self.fs.cat_file(self._path(relpath))
            return data

    def exists(self, relpath: str) -> bool:
        with translate_errors(self.uri(relpath)):
            return bool(self.fs.exists(self._path(relpath)))

    def is_complete(self, reldir: str) -> bool:
        return self.exists(posixpath.join(reldir, COMPLETE_MARKER))

    def completed_at(self, reldir: str) -> datetime | None:
        """When the version was (last) written, or None if it is not complete."""
        try:
            marker = json.loads(self.read_bytes(posixpath.join(reldir, COMPLETE_MARKER)))
        except ArtifactNotFoundError:
            return None
        return datetime.fromtimestamp(int(marker["ns"]) / 1e9, tz=UTC)

    def write_version(self, reldir: str, files: Mapping[str, bytes | Path]) -> str:
        """Write a version atomically and return its URI; a file is given as its bytes or a local path.

        An existing complete version is kept as it is (only its completion time is
        refreshed); an incomplete leftover of a crashed writer is replaced.
        """
        names = list(files)
        for name in names:
            if name == COMPLETE_MARKER or _check_relpath(name) != name or not name:
                raise InvalidArtifactURIError(f"invalid file name in a version: {name!r}")
        uri = self.uri(reldir)
        with translate_errors(uri):
            self._tidy(reldir)
            if self.is_complete(reldir):
                self._write_marker(reldir)
                return uri
            if self.is_local:
                self._write_local(reldir, files)
            else:
                self._write_remote(reldir, files)
        return uri

    def refresh(self, reldir: str) -> str:
        """Mark an existing complete version as written now (it becomes the latest)."""
        uri = self.uri(reldir)
        with translate_errors(uri):
            self._tidy(reldir)
            if not self.is_complete(reldir):
                raise ArtifactNotFoundError(f"no complete version at {uri}")
            self._write_marker(reldir)
        return uri

    def _tidy(self, reldir: str) -> None:
        """Every write beside `reldir` removes what killed local writers left there (remote writes leave nothing)."""
        if self.is_local and (parent := Path(self._path(reldir)).parent).is_dir():
            remove_stale_tmp(parent, older_than=STALE_TMP_SECONDS)

    def _marker_bytes(self) -> bytes:
        ns = time.time_ns()
        return json.dumps({"ns": ns, "completed_at": datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat()}).encode()

    def _write_marker(self, reldir: str) -> None:
        self.fs.pipe_file(self._path(posixpath.join(reldir, COMPLETE_MARKER)), self._marker_bytes())

    def _write_local(self, reldir: str, files: Mapping[str, bytes | Path]) -> None:
        final = Path(self._path(reldir))
        final.parent.mkdir(parents=True, exist_ok=True)
        # Same parent directory, so the final rename cannot cross filesystems.
        tmp = final.parent / f"{TMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            for name, data in files.items():
                target = tmp / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(data, Path):
                    shutil.copyfile(data, target)
                else:
                    target.write_bytes(data)
            (tmp / COMPLETE_MARKER).write_bytes(self._marker_bytes())
            if final.exists():
                if (final / COMPLETE_MARKER).exists():
                    return  # another writer completed the same version first
                shutil.rmtree(final)
            try:
                tmp.rename(final)
            except OSError:
                if not (final / COMPLETE_MARKER).exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _write_remote(self, reldir: str, files: Mapping[str, bytes | Path]) -> None:
        base = self._path(reldir)
        if self.fs.exists(base):
            self.fs.rm(base, recursive=True)
        self.fs.pipe({f"{base}/{name}": data for name, data in files.items() if isinstance(data, bytes)})
        for name, data in files.items():
            if isinstance(data, Path):
                self.fs.put_file(str(data), f"{base}/{name}")  # multipart: never whole in memory
        self._write_marker(reldir)

    def list_versions(self, prefix: str) -> list[str]:
        """Complete versions directly under `prefix` (e.g. `models/iris`), oldest first."""
        base = self._path(prefix)
        with translate_errors(self.uri(prefix)):
            markers = [p for p in self.fs.glob(f"{base}/*/{COMPLETE_MARKER}") if not _is_hidden(p)]
            if not markers:
                return []
            contents = self.fs.cat(markers)
        stamped: list[tuple[int, str]] = []
        for path, raw in contents.items():
            version = posixpath.basename(posixpath.dirname(path))
            try:
                ns = int(json.loads(raw)["ns"])
            except (ValueError, KeyError, TypeError):
                ns = 0
            stamped.append((ns, version))
        return [version for _, version in sorted(stamped)]

    def latest_version(self, prefix: str) -> str | None:
        versions = self.list_versions(prefix)
        return versions[-1] if versions else None


def remove_stale_tmp(parent: Path, *, older_than: float) -> list[str]:
    """Remove the leftovers of killed writers in `parent` (untouched for `older_than` seconds); their names."""
    cutoff = time.time() - older_than
    removed = []
    for entry in parent.glob(f"{TMP_PREFIX}*"):
        try:
            stale = entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue  # another writer cleaned it up first
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _is_hidden(path: str) -> bool:
    return posixpath.basename(posixpath.dirname(path)).startswith(".")


def _local_path(uri: str) -> str | None:
    """The filesystem path a local URI (plain path, file://, pvc://) names, else None."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "":
        return str(Path(uri).resolve())
    if scheme in ("file", "pvc"):
        # pvc://data/x and pvc:///data/x both mean the mount path /data/x.
        return "/" + (parts.netloc + parts.path).lstrip("/")
    return None


def open_artifact(uri: str, **store_options: Any) -> tuple[ArtifactStore, str]:
    """Split a full artifact URI (`s3://b/p/models/m/v1`) into its store and `models/m/v1`."""
    parts = urlsplit(uri)
    local = _local_path(uri)
    path = local if local is not None else parts.path
    segments = [s for s in path.split("/") if s]
    if len(segments) < 3 or segments[-3] not in ARTIFACT_KINDS:
        raise InvalidArtifactURIError(
            f"{uri!r} does not name an artifact version (.../models/<name>/<version> or .../datasets/<name>/<version>)"
        )
    reldir = "/".join(segments[-3:])
    root_path = "/".join(segments[:-3])
    if local is not None:
        scheme = parts.scheme.lower() or "file"
        root_uri = f"{scheme}:///{root_path}"
    else:
        root_uri = f"{parts.scheme}://{parts.netloc}/{root_path}".rstrip("/")
    return ArtifactStore.from_uri(root_uri, **store_options), reldir
