"""The on-store format of a dataset version.

`data.parquet` (the cleaned rows), `profile.json` (DatasetProfile, the drift
baseline), `report.html` (plots for people) and `dataset.json` (DatasetManifest:
roles of the columns, schema, quality counts and the sha256 of every other file).
"""

from __future__ import annotations

import io
import posixpath
from dataclasses import dataclass

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


def frame_to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def save_dataset(
    store: ArtifactStore, manifest: DatasetManifest, *, data: bytes, profile: DatasetProfile, report_html: str
) -> str:
    """Write a dataset version (manifest.files is filled in here) and return its URI."""
    files = {
        DATA_FILE: data,
        PROFILE_FILE: profile.model_dump_json(indent=2).encode(),
        REPORT_FILE: report_html.encode(),
    }
    final = manifest.model_copy(update={"files": {name: sha256_hex(content) for name, content in files.items()}})
    files[MANIFEST_FILE] = final.model_dump_json(indent=2).encode()
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


def load_dataset(store: ArtifactStore, reldir: str) -> LoadedDataset:
    """Load and verify a complete dataset version."""
    manifest = read_manifest(store, reldir)
    data = _verified(store, reldir, manifest, DATA_FILE)
    profile_bytes = _verified(store, reldir, manifest, PROFILE_FILE)
    try:
        frame = pd.read_parquet(io.BytesIO(data))
        profile = DatasetProfile.model_validate_json(profile_bytes)
    except (ValueError, OSError) as e:
        raise InvalidDatasetError(f"dataset version {store.uri(reldir)} cannot be read: {e}") from e
    return LoadedDataset(manifest=manifest, frame=frame, profile=profile, uri=store.uri(reldir))
