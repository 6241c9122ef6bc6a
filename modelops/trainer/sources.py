"""Read a Dataset's source into a DataFrame: builtin, url, s3, configMap (mounted file), pvc.

Failures are classified here: a missing or unparsable source is bad input,
a refused connection or a server error is transient.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from modelops.api.dataset import BuiltinName, DataSource, FileFormat, UrlSource
from modelops.artifacts.errors import (
    ArtifactNotFoundError,
    StorageAccessDeniedError,
    StorageUnavailableError,
)
from modelops.artifacts.store import s3_filesystem, translate_errors
from modelops.contract.jobs import PVC_ROOT, SOURCE_DIR
from modelops.trainer.errors import SourceError, TransientError

log = logging.getLogger(__name__)

BUILTIN_TARGET = "target"
CSV_CHUNK_ROWS = 200_000


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


def _format_of(location: str, given: FileFormat | None) -> FileFormat:
    if given is not None:
        return given
    lowered = location.lower().split("?", 1)[0]
    return "parquet" if lowered.endswith((".parquet", ".pq")) else "csv"


def _read_csv(data: Any) -> pd.DataFrame:
    # In chunks: the tokenizer's buffers for a whole file cost about three times
    # the parsed frame; per chunk they stay small (see bench/training).
    with pd.read_csv(data, chunksize=CSV_CHUNK_ROWS) as reader:
        chunks = list(reader)
    if len(chunks) == 1:
        return chunks[0]
    frame = pd.concat(chunks, ignore_index=True)
    del chunks
    return frame


def _parse(data: Any, fmt: FileFormat, where: str) -> pd.DataFrame:
    try:
        if fmt == "parquet":
            return pd.read_parquet(data)
        return _read_csv(data)
    except (ValueError, UnicodeDecodeError, OSError) as e:
        # pandas' ParserError/EmptyDataError and pyarrow's ArrowInvalid are ValueErrors.
        if isinstance(e, FileNotFoundError):
            raise SourceError(f"source file not found: {where}") from e
        if isinstance(e, OSError) and not _is_parse_oserror(e):
            raise SourceError(f"cannot read source {where}: {e}") from e
        raise SourceError(f"source {where} is not valid {fmt.upper()}: {_short(e)}") from e


def _is_parse_oserror(e: OSError) -> bool:
    # pyarrow reports a corrupt parquet file as an OSError subclass.
    return type(e).__module__.startswith("pyarrow")


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__


def read_local(path: str, fmt: FileFormat | None) -> pd.DataFrame:
    file = Path(path)
    if not file.is_file():
        raise SourceError(f"source file not found: {path}")
    return _parse(file, _format_of(path, fmt), path)


def read_url(source: UrlSource) -> pd.DataFrame:
    import aiohttp
    import fsspec

    url = source.url  # http(s): the API model's pattern
    try:
        fs = fsspec.filesystem("http", skip_instance_cache=True)
        data = fs.cat_file(url)
    except FileNotFoundError as e:
        raise SourceError(f"source URL not found (HTTP 404): {url}") from e
    except aiohttp.ClientResponseError as e:
        if e.status in (408, 429) or e.status >= 500:
            raise TransientError(f"source URL {url} answered HTTP {e.status}") from e
        raise SourceError(f"source URL {url} answered HTTP {e.status}") from e
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        raise TransientError(f"cannot reach source URL {url}: {_short(e)}") from e
    return _parse(io.BytesIO(data), _format_of(url, source.format), url)


def read_s3(bucket: str, key: str, endpoint: str | None, fmt: FileFormat | None) -> pd.DataFrame:
    uri = f"s3://{bucket}/{key}"
    try:
        with translate_errors(uri):
            data = s3_filesystem(endpoint_url=endpoint).cat_file(f"{bucket}/{key}")
    except ArtifactNotFoundError as e:
        raise SourceError(f"source object not found: {uri}") from e
    except StorageAccessDeniedError as e:
        raise SourceError(f"access denied to source {uri}: check the credentials") from e
    except StorageUnavailableError as e:
        raise TransientError(str(e)) from e
    return _parse(io.BytesIO(data), _format_of(key, fmt), uri)


def load_source(source: DataSource, where: SourceLocations) -> tuple[pd.DataFrame, str]:
    """The raw frame and a one-line description of where it came from."""
    if where.source_file is not None:
        return read_local(where.source_file, None), f"file:{where.source_file}"
    if source.builtin is not None:
        return load_builtin(source.builtin.name), f"builtin:{source.builtin.name}"
    if source.url is not None:
        return read_url(source.url), source.url.url
    if source.s3 is not None:
        s3 = source.s3
        return read_s3(s3.bucket, s3.key, s3.endpoint, s3.format), f"s3://{s3.bucket}/{s3.key}"
    if source.config_map is not None:
        cm = source.config_map
        path = str(Path(where.source_dir) / cm.key)
        return read_local(path, cm.format), f"configMap:{cm.name}/{cm.key}"
    assert source.pvc is not None  # DataSource guarantees exactly one kind
    pvc = source.pvc
    path = str(Path(where.pvc_root) / pvc.claim_name / pvc.path.lstrip("/"))
    return read_local(path, pvc.format), f"pvc:{pvc.claim_name}/{pvc.path.lstrip('/')}"
