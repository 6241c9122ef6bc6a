"""The on-store format of a model version: model.skops, model.onnx, metadata.json.

`metadata.json` records the sha256 of every other file; `load_model` refuses a
version whose files do not match it. The pipeline is loaded with skops and an
explicit list of trusted types (never pickle, never `trusted=True`), so a
version that carries any other type is refused as well.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import ValidationError

from modelops.artifacts.errors import ArtifactError, ArtifactNotFoundError, TamperedArtifactError
from modelops.artifacts.metadata import ModelMetadata
from modelops.artifacts.onnx_export import export_onnx
from modelops.artifacts.store import ArtifactStore, open_artifact

__all__ = [
    "METADATA_FILE",
    "MODEL_FILE",
    "ONNX_FILE",
    "TRUSTED_TYPES",
    "ArtifactError",
    "ArtifactNotFoundError",
    "InvalidModelError",
    "LoadedModel",
    "SavedModel",
    "TamperedArtifactError",
    "UntrustedTypeError",
    "load_metadata",
    "load_model",
    "load_model_from",
    "model_reldir",
    "save_model",
    "sha256_hex",
]

MODEL_FILE = "model.skops"
ONNX_FILE = "model.onnx"
METADATA_FILE = "metadata.json"

# Types outside skops' default trust that the trainer's pipelines legitimately
# contain (collected from every algorithm the trainer offers, and the Dataset's
# cleaning steps). Anything else in a model file is refused: it did not come
# from this trainer.
TRUSTED_TYPES: tuple[str, ...] = (
    "modelops.artifacts.transformers.CategoryFiller",
    "modelops.artifacts.transformers.RowCleaner",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
)


class InvalidModelError(ArtifactError):
    """metadata.json or model.skops cannot be parsed."""


class UntrustedTypeError(InvalidModelError):
    """model.skops holds a type outside TRUSTED_TYPES and skops' defaults."""


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version, ready to predict."""

    metadata: ModelMetadata
    pipeline: Any  # a fitted sklearn Pipeline
    onnx_bytes: bytes | None
    uri: str


@dataclass(frozen=True)
class SavedModel:
    """Where a model version was written and what it holds."""

    uri: str
    metadata: ModelMetadata
    sha256: str
    formats: list[str]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_reldir(name: str, version: str) -> str:
    return f"models/{name}/{version}"


def save_model(
    store: ArtifactStore, pipeline: Any, metadata: ModelMetadata, *, check_frame: pd.DataFrame | None
) -> SavedModel:
    """Write a model version; `metadata.onnx` and `metadata.files` are filled in here.

    `check_frame` holds held-out feature rows on which an ONNX export must
    reproduce the pipeline to be kept.
    """
    import skops.io

    files: dict[str, bytes] = {MODEL_FILE: skops.io.dumps(pipeline)}
    onnx = export_onnx(pipeline, metadata.features, metadata.task, check_frame)
    if onnx.data is not None:
        files[ONNX_FILE] = onnx.data
    final = metadata.model_copy(
        update={"onnx": onnx.export, "files": {name: sha256_hex(data) for name, data in files.items()}}
    )
    files[METADATA_FILE] = final.model_dump_json(indent=2).encode()
    uri = store.write_version(model_reldir(final.name, final.version), files)
    formats = ["skops", "onnx"] if onnx.data is not None else ["skops"]
    return SavedModel(uri=uri, metadata=final, sha256=final.files[MODEL_FILE], formats=formats)


def _read_metadata(store: ArtifactStore, reldir: str) -> ModelMetadata:
    if not store.is_complete(reldir):
        raise ArtifactNotFoundError(f"no complete model version at {store.uri(reldir)}")
    raw = store.read_bytes(posixpath.join(reldir, METADATA_FILE))
    try:
        return ModelMetadata.model_validate_json(raw)
    except ValidationError as e:
        raise InvalidModelError(f"{METADATA_FILE} in {store.uri(reldir)} is not valid: {e}") from e


def _verified_files(store: ArtifactStore, reldir: str, metadata: ModelMetadata) -> Mapping[str, bytes]:
    uri = store.uri(reldir)
    if MODEL_FILE not in metadata.files:
        raise InvalidModelError(f"{METADATA_FILE} in {uri} records no {MODEL_FILE}")
    contents: dict[str, bytes] = {}
    for name, expected in metadata.files.items():
        try:
            data = store.read_bytes(posixpath.join(reldir, name))
        except ArtifactNotFoundError as e:
            raise TamperedArtifactError(uri, name, expected, None) from e
        actual = sha256_hex(data)
        if actual != expected:
            raise TamperedArtifactError(uri, name, expected, actual)
        contents[name] = data
    return contents


def load_metadata(uri: str, **store_options: Any) -> ModelMetadata:
    """metadata.json of a complete version (its files are not read)."""
    store, reldir = open_artifact(uri, **store_options)
    return _read_metadata(store, reldir)


def load_model_from(store: ArtifactStore, reldir: str) -> LoadedModel:
    """Load and verify the version at `reldir` of `store`."""
    import skops.io

    metadata = _read_metadata(store, reldir)
    files = _verified_files(store, reldir, metadata)
    model_bytes = files[MODEL_FILE]
    try:
        untrusted = set(skops.io.get_untrusted_types(data=model_bytes)) - set(TRUSTED_TYPES)
    except Exception as e:  # skops raises assorted errors on a corrupt archive
        raise InvalidModelError(f"{MODEL_FILE} in {store.uri(reldir)} cannot be read: {e}") from e
    if untrusted:
        raise UntrustedTypeError(
            f"{MODEL_FILE} in {store.uri(reldir)} holds types this trainer never writes: {sorted(untrusted)}"
        )
    pipeline = skops.io.loads(model_bytes, trusted=list(TRUSTED_TYPES))
    return LoadedModel(metadata=metadata, pipeline=pipeline, onnx_bytes=files.get(ONNX_FILE), uri=store.uri(reldir))


def load_model(uri: str, **store_options: Any) -> LoadedModel:
    """Load and verify the model version a full URI names (`s3://b/p/models/m/v1`)."""
    store, reldir = open_artifact(uri, **store_options)
    return load_model_from(store, reldir)
