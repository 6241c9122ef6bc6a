"""Read a Dataset's source into a DataFrame: builtin, url, s3, configMap (mounted file), pvc.

Failures are classified here: a missing or unparsable source is bad input,
a refused connection or a server error is transient. A local path must stay under its mount,
a URL must lead to a public address (`modelops.trainer.fetch`), and every file is parsed within
the operator's `SourceLimits` (`modelops.trainer.tables`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from modelops.api.dataset import BuiltinName, DataSource, FileFormat, S3Source, UrlSource
from modelops.artifacts.errors import (
    ArtifactNotFoundError,
    StorageAccessDeniedError,
    StorageUnavailableError,
)
from modelops.artifacts.store import s3_filesystem, translate_errors
from modelops.contract.jobs import PVC_ROOT, SOURCE_DIR, SourceLimits
from modelops.trainer.errors import SourceError, TransientError
from modelops.trainer.fetch import check_endpoint, download
from modelops.trainer.tables import format_of, over_limit, read_table

log = logging.getLogger(__name__)

BUILTIN_TARGET = "target"


@dataclass(frozen=True)
class SourceLocations:
    """Where the Job's mounts are; the operator and these defaults must agree."""

    source_dir: str = field(default_factory=lambda: os.environ.get("MODELOPS_SOURCE_DIR", SOURCE_DIR))
    pvc_root: str = field(default_factory=lambda: os.environ.get("MODELOPS_PVC_ROOT", PVC_ROOT))
    source_file: str | None = None  # CLI override: read this file whatever the spec says


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


def read_local(path: Path, fmt: FileFormat | None, where: str, limits: SourceLimits) -> pd.DataFrame:
    if not path.is_file():
        raise SourceError(f"source file not found: {where}")
    return read_table(path, format_of(str(path), fmt), where, limits)


def read_url(source: UrlSource, scratch: Path, limits: SourceLimits) -> pd.DataFrame:
    url = source.url  # http(s): the API model's pattern
    path = scratch / "download"
    size = download(url, path, limits)
    log.info("downloaded %d bytes from %s", size, url)
    return read_table(path, format_of(url, source.format), url, limits)


def read_s3(source: S3Source, scratch: Path, limits: SourceLimits) -> pd.DataFrame:
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
    return read_table(path, format_of(source.key, source.format), uri, limits)


def load_source(source: DataSource, where: SourceLocations, limits: SourceLimits) -> tuple[pd.DataFrame, str]:
    """The raw frame and a one-line description of where it came from."""
    if where.source_file is not None:
        return read_local(Path(where.source_file), None, where.source_file, limits), f"file:{where.source_file}"
    if source.builtin is not None:
        return load_builtin(source.builtin.name), f"builtin:{source.builtin.name}"
    if source.config_map is not None:
        cm = source.config_map
        described = f"configMap:{cm.name}/{cm.key}"
        path = contained(where.source_dir, cm.key, field="spec.source.configMap.key")
        return read_local(path, cm.format, described, limits), described
    if source.pvc is not None:
        pvc = source.pvc
        described = f"pvc:{pvc.claim_name}/{pvc.path}"
        path = contained(str(Path(where.pvc_root) / pvc.claim_name), pvc.path, field="spec.source.pvc.path")
        return read_local(path, pvc.format, described, limits), described
    # Remote sources land in a scratch file first: parsing streams from disk, never from a buffer.
    with tempfile.TemporaryDirectory(prefix="modelops-source-") as scratch:
        if source.url is not None:
            return read_url(source.url, Path(scratch), limits), source.url.url
        assert source.s3 is not None  # DataSource guarantees exactly one kind
        s3 = source.s3
        return read_s3(s3, Path(scratch), limits), f"s3://{s3.bucket}/{s3.key}"
