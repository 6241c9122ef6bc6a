"""The on-store format of a model version: model.skops, model.onnx, metadata.json, model.sig.

`metadata.json` records the sha256 of every other file; `load_model` refuses a
version whose files do not match it. `model.sig`, written when the trainer holds a signing key,
signs all of them, `metadata.json` included (`modelops.artifacts.signing`); `load_model` checks it
against the public keys it is given, and refuses an unsigned version when told to. The skops
archive's declared uncompressed size is bounded before anything is decompressed (a zip bomb is
refused by its directory), and the pipeline is loaded with skops and an explicit list of trusted
types (never pickle, never `trusted=True`), so a version that carries any other type is refused too.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import ValidationError

from modelops.artifacts.errors import ArtifactError, ArtifactNotFoundError, TamperedArtifactError
from modelops.artifacts.metadata import ModelMetadata
from modelops.artifacts.onnx_export import export_onnx
from modelops.artifacts.signing import (
    SIGNATURE_FILE,
    SignatureError,
    SigningKeyError,
    public_keys,
    sign_files,
    verify_files,
)
from modelops.artifacts.store import ArtifactStore, open_artifact

__all__ = [
    "MAX_UNCOMPRESSED_BYTES",
    "METADATA_FILE",
    "MODEL_FILE",
    "ONNX_FILE",
    "SIGNATURE_FILE",
    "TRUSTED_TYPES",
    "ArtifactError",
    "ArtifactNotFoundError",
    "InvalidModelError",
    "LoadedModel",
    "SavedModel",
    "SignatureError",
    "SigningKeyError",
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
# What a model.skops may expand to: far above any pipeline the trainer writes (a 500-tree forest
# is a few hundred MB), far below what would take a serving pod down.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_ARCHIVE_ENTRIES = 100_000

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


# Files of a version that metadata.json itself never lists.
_OWN_FILES = (METADATA_FILE, SIGNATURE_FILE)


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
    store: ArtifactStore,
    pipeline: Any,
    metadata: ModelMetadata,
    *,
    check_frame: pd.DataFrame | None,
    signing_key: str | None = None,
) -> SavedModel:
    """Write a model version; `metadata.onnx` and `metadata.files` are filled in here.

    `check_frame` holds held-out feature rows on which an ONNX export must
    reproduce the pipeline to be kept. With `signing_key` (a PEM elliptic-curve private key) the
    version is signed: `model.sig` covers every other file, `metadata.json` included.
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
    if signing_key is not None:
        files[SIGNATURE_FILE] = sign_files(files, private_key=signing_key, subject=final.version)
    uri = store.write_version(model_reldir(final.name, final.version), files)
    formats = ["skops", "onnx"] if onnx.data is not None else ["skops"]
    return SavedModel(uri=uri, metadata=final, sha256=final.files[MODEL_FILE], formats=formats)


def _read_metadata(store: ArtifactStore, reldir: str) -> tuple[ModelMetadata, bytes]:
    """The parsed metadata and the bytes it was parsed from (what the signature covers)."""
    if not store.is_complete(reldir):
        raise ArtifactNotFoundError(f"no complete model version at {store.uri(reldir)}")
    raw = store.read_bytes(posixpath.join(reldir, METADATA_FILE))
    try:
        metadata = ModelMetadata.model_validate_json(raw)
    except ValidationError as e:
        raise InvalidModelError(f"{METADATA_FILE} in {store.uri(reldir)} is not valid: {e}") from e
    name, version = reldir.rstrip("/").split("/")[-2:]
    if (metadata.name, metadata.version) != (name, version):
        # A whole version copied over another one (each file matching, even signed) is still not this version.
        raise InvalidModelError(
            f"{METADATA_FILE} in {store.uri(reldir)} describes {metadata.name}/{metadata.version}, not {name}/{version}"
        )
    return metadata, raw


def _verified_files(store: ArtifactStore, reldir: str, metadata: ModelMetadata) -> Mapping[str, bytes]:
    uri = store.uri(reldir)
    if MODEL_FILE not in metadata.files:
        raise InvalidModelError(f"{METADATA_FILE} in {uri} records no {MODEL_FILE}")
    odd = sorted(name for name in metadata.files if "/" in name or name.startswith(".") or name in _OWN_FILES)
    if odd:
        raise InvalidModelError(f"{METADATA_FILE} in {uri} records files this format never has: {odd}")
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
    return _read_metadata(store, reldir)[0]


def _check_signature(
    store: ArtifactStore, reldir: str, files: Mapping[str, bytes], *, public_key: str | None, required: bool
) -> None:
    uri = store.uri(reldir)
    if public_key is None:
        if required:
            raise SignatureError(f"signatures are required but no public key is configured to verify {uri}")
        return
    try:
        signature = store.read_bytes(posixpath.join(reldir, SIGNATURE_FILE))
    except ArtifactNotFoundError:
        if required:
            raise SignatureError(
                f"{uri} is not signed ({SIGNATURE_FILE} is missing) and signatures are required"
            ) from None
        return
    # A signature that is there is checked even when not required: a bad one is an attack, not a gap.
    verify_files(files, signature, keys=public_keys(public_key), subject=reldir.rstrip("/").split("/")[-1], uri=uri)


def check_archive(data: bytes, uri: str, *, max_uncompressed_bytes: int) -> None:
    """Refuse a skops archive whose directory declares more than `max_uncompressed_bytes`, before inflating any.

    zipfile never yields more than an entry's declared size, so the directory's sum bounds what
    skops can decompress; only the two methods skops writes are accepted.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise InvalidModelError(f"{MODEL_FILE} in {uri} is not a skops archive: {e}") from e
    if len(entries) > MAX_ARCHIVE_ENTRIES:
        raise InvalidModelError(f"{MODEL_FILE} in {uri} holds {len(entries)} entries (max {MAX_ARCHIVE_ENTRIES})")
    methods = {entry.compress_type for entry in entries} - {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
    if methods:
        raise InvalidModelError(f"{MODEL_FILE} in {uri} uses compression methods skops never writes: {sorted(methods)}")
    declared = sum(entry.file_size for entry in entries)
    if declared > max_uncompressed_bytes:
        raise InvalidModelError(
            f"{MODEL_FILE} in {uri} expands to {declared} bytes, more than the {max_uncompressed_bytes} allowed: "
            "refusing to decompress it"
        )


def load_model_from(
    store: ArtifactStore,
    reldir: str,
    *,
    public_key: str | None = None,
    require_signature: bool = False,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> LoadedModel:
    """Load and verify the version at `reldir` of `store`.

    `public_key`: a PEM public key, or a directory of them, that a present `model.sig` must verify
    against; `require_signature`: refuse a version without one (or with no key to check it).
    """
    import skops.io

    metadata, raw_metadata = _read_metadata(store, reldir)
    files = _verified_files(store, reldir, metadata)
    _check_signature(
        store, reldir, {METADATA_FILE: raw_metadata, **files}, public_key=public_key, required=require_signature
    )
    model_bytes = files[MODEL_FILE]
    check_archive(model_bytes, store.uri(reldir), max_uncompressed_bytes=max_uncompressed_bytes)
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


def load_model(
    uri: str,
    *,
    public_key: str | None = None,
    require_signature: bool = False,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
    **store_options: Any,
) -> LoadedModel:
    """Load and verify the model version a full URI names (`s3://b/p/models/m/v1`); see `load_model_from`."""
    store, reldir = open_artifact(uri, **store_options)
    return load_model_from(
        store,
        reldir,
        public_key=public_key,
        require_signature=require_signature,
        max_uncompressed_bytes=max_uncompressed_bytes,
    )
