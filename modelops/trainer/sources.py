"""Open a Dataset's source for reading batch by batch: builtin, url, s3, configMap (mounted file), pvc.

Failures are classified here: a missing or unparsable source is bad input,
a refused connection or a server error is transient. A local path must stay under its mount,
a URL must lead to a public address (`modelops.trainer.fetch`), and every file is parsed within
the operator's `SourceLimits` (`modelops.trainer.tables`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from modelops.api.dataset import BuiltinName, DataSource, FileFormat, S3Source, UrlSource
from modelops.artifacts.errors import (
    ArtifactNotFoundError,
    StorageAccessDeniedError,
    StorageUnavailableError,
)
from modelops.artifacts.store import s3_filesystem, translate_errors
from modelops.contract.jobs import PVC_ROOT, SOURCE_DIR, SourceLimits
from modelops.trainer.columns import as_text
from modelops.trainer.errors import SourceError, TransientError
from modelops.trainer.fetch import check_endpoint, download
from modelops.trainer.tables import TableFile, format_of, open_table, over_limit

log = logging.getLogger(__name__)

BUILTIN_TARGET = "target"


@dataclass(frozen=True)
class SourceLocations:
    """Where the Job's mounts are; the operator and these defaults must agree."""

    source_dir: str = field(default_factory=lambda: os.environ.get("MODELOPS_SOURCE_DIR", SOURCE_DIR))
    pvc_root: str = field(default_factory=lambda: os.environ.get("MODELOPS_PVC_ROOT", PVC_ROOT))
    source_file: str | None = None  # CLI override: read this file whatever the spec says


class Table(Protocol):
    """A source opened for reading: its columns, then its rows batch by batch."""

    def column_names(self) -> list[str]: ...

    def batches(self, columns: Sequence[str], *, text: Collection[str], cells: int) -> Iterator[pd.DataFrame]: ...


@dataclass(frozen=True)
class FrameTable:
    """A table already in memory (the small datasets bundled with scikit-learn)."""

    frame: pd.DataFrame

    def column_names(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def batches(self, columns: Sequence[str], *, text: Collection[str], cells: int) -> Iterator[pd.DataFrame]:
        frame = self.frame.set_axis(self.column_names(), axis=1)[list(columns)]
        frame = frame.assign(**{name: as_text(frame[name]) for name in text})
        size = max(1, cells // max(1, len(columns)))
        for start in range(0, max(1, len(frame)), size):
            yield frame.iloc[start : start + size]


def load_builtin(name: BuiltinName) -> pd.DataFrame:
    """A scikit-learn bundled dataset; class targets become their names."""
    from sklearn import datasets

    loaders = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }
    bunch = loaders[name](as_frame=True)
    frame: pd.DataFrame = bunch.frame.copy()
    names = getattr(bunch, "target_names", None)
    if name in ("iris", "wine", "breast_cancer") and names is not None:
        # Named classes make the task obvious downstream and the predictions readable.
        frame[BUILTIN_TARGET] = pd.Series(names[frame[BUILTIN_TARGET].to_numpy()], index=frame.index).astype(str)
    return frame


def contained(root: str, relative: str, *, field: str) -> Path:
    """`root/relative` with every symlink resolved, refused unless it stays under `root`.

    The API refuses absolute paths and `..` already; this also catches a symlink inside the
    mount that points out of it (to /proc/self/environ, a service account token...).
    """
    base = Path(root).resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise SourceError(f"{field}: the path leaves its mount; refusing to read it")
    return path


def read_local(path: Path, fmt: FileFormat | None, where: str, limits: SourceLimits) -> TableFile:
    if not path.is_file():
        raise SourceError(f"source file not found: {where}")
    return open_table(path, format_of(str(path), fmt), where, limits)


def read_url(source: UrlSource, scratch: Path, limits: SourceLimits) -> TableFile:
    url = source.url  # http(s): the API model's pattern
    path = scratch / "download"
    size = download(url, path, limits)
    log.info("downloaded %d bytes from %s", size, url)
    return open_table(path, format_of(url, source.format), url, limits)


def read_s3(source: S3Source, scratch: Path, limits: SourceLimits) -> TableFile:
    uri = f"s3://{source.bucket}/{source.key}"
    path = scratch / "object"
    if source.endpoint is not None:  # the spec's endpoint, unlike the operator's, is the user's choice
        check_endpoint(source.endpoint, limits)
    try:
        with translate_errors(uri):
            fs = s3_filesystem(endpoint_url=source.endpoint)
            size = int(fs.size(f"{source.bucket}/{source.key}"))
            if size > limits.max_bytes:
                raise over_limit(uri, f"{size} bytes, more than {limits.max_bytes}", "MAX_BYTES")
            fs.get_file(f"{source.bucket}/{source.key}", str(path))
    except ArtifactNotFoundError as e:
        raise SourceError(f"source object not found: {uri}") from e
    except StorageAccessDeniedError as e:
        raise SourceError(f"access denied to source {uri}: check the credentials") from e
    except StorageUnavailableError as e:
        raise TransientError(str(e)) from e
    return open_table(path, format_of(source.key, source.format), uri, limits)


@contextlib.contextmanager
def open_source(source: DataSource, where: SourceLocations, limits: SourceLimits) -> Iterator[tuple[Table, str]]:
    """The source opened for reading, and a one-line description of where it came from.

    A remote source is downloaded to a scratch file first (parsing streams from disk, never from a
    buffer), which lives as long as the context.
    """
    if where.source_file is not None:
        yield read_local(Path(where.source_file), None, where.source_file, limits), f"file:{where.source_file}"
    elif source.builtin is not None:
        yield FrameTable(load_builtin(source.builtin.name)), f"builtin:{source.builtin.name}"
    elif source.config_map is not None:
        cm = source.config_map
        described = f"configMap:{cm.name}/{cm.key}"
        path = contained(where.source_dir, cm.key, field="spec.source.configMap.key")
        yield read_local(path, cm.format, described, limits), described
    elif source.pvc is not None:
        pvc = source.pvc
        described = f"pvc:{pvc.claim_name}/{pvc.path}"
        path = contained(str(Path(where.pvc_root) / pvc.claim_name), pvc.path, field="spec.source.pvc.path")
        yield read_local(path, pvc.format, described, limits), described
    else:
        with tempfile.TemporaryDirectory(prefix="modelops-source-") as scratch:
            if source.url is not None:
                yield read_url(source.url, Path(scratch), limits), source.url.url
            else:
                assert source.s3 is not None  # DataSource guarantees exactly one kind
                s3 = source.s3
                yield read_s3(s3, Path(scratch), limits), f"s3://{s3.bucket}/{s3.key}"
