"""The on-store format of a dataset version.

`data.parquet` (the cleaned rows, one row group per batch `prepare` wrote), `profile.json`
(DatasetProfile, the drift baseline), `report.html` (plots for people) and `dataset.json`
(DatasetManifest: roles of the columns, schema, quality counts and the sha256 of every other file).
The data is written and read a batch at a time: neither side holds it whole, and a reader takes
only the columns and rows it needs.
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelops.artifacts.errors import ArtifactError, ArtifactNotFoundError, TamperedArtifactError
from modelops.artifacts.metadata import DatasetProfile, FeatureSchema
from modelops.artifacts.model_format import sha256_hex
from modelops.artifacts.store import ArtifactStore

DATA_FILE = "data.parquet"
PROFILE_FILE = "profile.json"
REPORT_FILE = "report.html"
MANIFEST_FILE = "dataset.json"


class ColumnCleaning(BaseModel):
    """What `prepare` did to one column's values, row by row, fitted on the data: done again at serving."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lower: float | None = Field(default=None, description="values below are clipped to it (outliers: clip)")
    upper: float | None = Field(default=None, description="values above are clipped to it")
    fill: float | str | None = Field(default=None, description="a missing value becomes this (imputation)")


class DatasetManifest(BaseModel):
    """`dataset.json` of a dataset version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    target: str | None
    features: list[str]
    feature_schema: list[FeatureSchema]
    rows: int
    columns: int
    quality: dict[str, int]
    source: str
    cleaning: dict[str, ColumnCleaning] = Field(
        default_factory=dict, description="feature -> the row-wise cleaning the model's pipeline repeats"
    )
    files: dict[str, str] = {}


@dataclass(frozen=True)
class LoadedDataset:
    manifest: DatasetManifest
    frame: pd.DataFrame
    profile: DatasetProfile
    uri: str


class InvalidDatasetError(ArtifactError):
    """dataset.json, profile.json or data.parquet cannot be parsed."""


def dataset_reldir(name: str, version: str) -> str:
    return f"datasets/{name}/{version}"


class ParquetRows:
    """Batches of rows appended to one Parquet file, as pandas writes a frame (its dtypes come back on reading)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: Any = None
        self._schema: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            floats = [f.name for f in self._schema if pa.types.is_floating(f.type)]
            others = [f.name for f in self._schema if f.name not in floats]
            # Floats are rarely repeated: a dictionary tried on them is a dictionary thrown away, and
            # their min/max per row group serve nobody. Split into byte streams they compress as well
            # and encode three times faster (bench/training).
            self._writer = pq.ParquetWriter(
                self.path,
                self._schema,
                use_dictionary=others,
                write_statistics=others,
                column_encoding=dict.fromkeys(floats, "BYTE_STREAM_SPLIT"),
            )
        elif len(frame) == 0:
            return
        # Each batch's pandas metadata is its own; the file keeps the first's.
        self._writer.write_table(table.cast(self._schema))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def save_dataset(
    store: ArtifactStore, manifest: DatasetManifest, *, data: Path, profile: DatasetProfile, report_html: str
) -> str:
    """Write a version (manifest.files is filled in here), the data from a local Parquet file; its URI."""
    small = {PROFILE_FILE: profile.model_dump_json(indent=2).encode(), REPORT_FILE: report_html.encode()}
    sums = {DATA_FILE: file_sha256(data), **{name: sha256_hex(content) for name, content in small.items()}}
    final = manifest.model_copy(update={"files": sums})
    files: dict[str, bytes | Path] = {DATA_FILE: data, **small, MANIFEST_FILE: final.model_dump_json(indent=2).encode()}
    return store.write_version(dataset_reldir(manifest.name, manifest.version), files)


def read_manifest(store: ArtifactStore, reldir: str) -> DatasetManifest:
    if not store.is_complete(reldir):
        raise ArtifactNotFoundError(f"no complete dataset version at {store.uri(reldir)}")
    try:
        return DatasetManifest.model_validate_json(store.read_bytes(posixpath.join(reldir, MANIFEST_FILE)))
    except ValidationError as e:
        raise InvalidDatasetError(f"{MANIFEST_FILE} in {store.uri(reldir)} is not valid: {e}") from e


def _verified(store: ArtifactStore, reldir: str, manifest: DatasetManifest, name: str) -> bytes:
    expected = manifest.files.get(name)
    if expected is None:
        raise InvalidDatasetError(f"{MANIFEST_FILE} in {store.uri(reldir)} records no {name}")
    data = store.read_bytes(posixpath.join(reldir, name))
    actual = sha256_hex(data)
    if actual != expected:
        raise TamperedArtifactError(store.uri(reldir), name, expected, actual)
    return data


@dataclass(frozen=True)
class FetchedDataset:
    """A verified dataset version: its manifest and profile, and a local copy of its data."""

    manifest: DatasetManifest
    profile: DatasetProfile
    data: Path  # data.parquet, copied and checked against the manifest's sha256
    uri: str

    def read(self, columns: Sequence[str] | None = None, rows: Sequence[int] | None = None) -> pd.DataFrame:
        """The data's `columns` (default: all) of `rows` (sorted row numbers; default: all), a row group at a time."""
        try:
            return read_parquet_rows(self.data, columns, rows)
        except (ValueError, OSError) as e:
            raise InvalidDatasetError(f"dataset version {self.uri} cannot be read: {e}") from e


def read_parquet_rows(path: Path, columns: Sequence[str] | None, rows: Sequence[int] | None) -> pd.DataFrame:
    """Only `columns` and `rows` of a Parquet file: row groups holding none of the rows are not even read."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    names = list(columns) if columns is not None else None
    if rows is None:
        whole: pd.DataFrame = file.read(columns=names).to_pandas()
        return whole
    wanted = np.asarray(rows, dtype=np.int64)
    parts, start = [], 0
    for group in range(file.num_row_groups):
        size = file.metadata.row_group(group).num_rows
        low, high = np.searchsorted(wanted, [start, start + size])
        if high > low:
            table = file.read_row_group(group, columns=names)
            parts.append(table.take(pa.array(wanted[low:high] - start)))
        start += size
    table = (
        pa.concat_tables(parts) if parts else file.schema_arrow.empty_table().select(names or file.schema_arrow.names)
    )
    frame: pd.DataFrame = table.to_pandas()
    return frame


def fetch_dataset(store: ArtifactStore, reldir: str, into: Path) -> FetchedDataset:
    """Copy a complete dataset version's data into the local directory `into` and verify it all."""
    manifest = read_manifest(store, reldir)
    expected = manifest.files.get(DATA_FILE)
    if expected is None:
        raise InvalidDatasetError(f"{MANIFEST_FILE} in {store.uri(reldir)} records no {DATA_FILE}")
    data = into / DATA_FILE
    actual = store.copy_to(posixpath.join(reldir, DATA_FILE), data)
    if actual != expected:
        raise TamperedArtifactError(store.uri(reldir), DATA_FILE, expected, actual)
    profile_bytes = _verified(store, reldir, manifest, PROFILE_FILE)
    try:
        profile = DatasetProfile.model_validate_json(profile_bytes)
    except ValueError as e:
        raise InvalidDatasetError(f"dataset version {store.uri(reldir)} cannot be read: {e}") from e
    return FetchedDataset(manifest=manifest, profile=profile, data=data, uri=store.uri(reldir))


def load_dataset(store: ArtifactStore, reldir: str) -> LoadedDataset:
    """Load and verify a complete dataset version, all of it in memory (small data, tests)."""
    with tempfile.TemporaryDirectory(prefix="modelops-dataset-") as scratch:
        fetched = fetch_dataset(store, reldir, Path(scratch))
        frame = fetched.read()
    return LoadedDataset(manifest=fetched.manifest, frame=frame, profile=fetched.profile, uri=fetched.uri)
