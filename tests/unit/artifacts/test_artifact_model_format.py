"""model.skops + model.onnx + metadata.json: save, verified load, refusal of tampering."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modelops.artifacts.errors import ArtifactNotFoundError, TamperedArtifactError
from modelops.artifacts.metadata import DatasetProfile, FeatureSchema, ModelMetadata, OnnxExport
from modelops.artifacts.model_format import (
    LoadedModel,
    UntrustedTypeError,
    load_model,
    model_reldir,
    save_model,
    sha256_hex,
)
from modelops.artifacts.store import ArtifactStore


class Intruder:
    """Stands for any class a crafted model file could ask skops to instantiate."""


FEATURES = [FeatureSchema(name="a", type="number"), FeatureSchema(name="b", type="number")]


def _frame(rows: int = 60) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(rows, 2)), columns=["a", "b"])
    y = pd.Series(np.where(X["a"] + X["b"] > 0, "pos", "neg"))
    return X, y


def _metadata(version: str = "v1", task: Any = "classification") -> ModelMetadata:
    return ModelMetadata(
        name="m",
        version=version,
        task=task,
        algorithm="logistic_regression",
        hyperparameters={},
        target="y",
        features=FEATURES,
        classes=["neg", "pos"],
        metrics={"test": {"accuracy": 1.0}},
        dataset="d@x",
        profile=DatasetProfile(rows=0, features={}),
        onnx=OnnxExport(exported=False),
        libraries={},
        files={},
    )


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore.from_uri(f"file://{tmp_path}")


@pytest.fixture
def saved(store: ArtifactStore) -> LoadedModel:
    X, y = _frame()
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, y)
    result = save_model(store, pipeline, _metadata(), check_frame=X)
    return load_model(result.uri)


def test_saved_model_loads_with_verified_hashes_and_predicts(saved: LoadedModel) -> None:
    X, y = _frame()

    assert saved.metadata.onnx.exported
    assert saved.onnx_bytes is not None and sha256_hex(saved.onnx_bytes) == saved.metadata.files["model.onnx"]
    assert set(saved.metadata.files) == {"model.skops", "model.onnx"}
    assert (saved.pipeline.predict(X) == y).mean() > 0.9


@pytest.mark.parametrize("name", ["model.skops", "model.onnx"])
def test_changed_file_is_refused_naming_it(store: ArtifactStore, saved: LoadedModel, name: str) -> None:
    path = Path(store.root, model_reldir("m", "v1"), name)
    path.write_bytes(path.read_bytes() + b"\x00")

    with pytest.raises(TamperedArtifactError, match=rf"{name} in file://.* does not match its recorded sha256"):
        load_model(saved.uri)


def test_deleted_file_is_refused_as_tampering(store: ArtifactStore, saved: LoadedModel) -> None:
    Path(store.root, model_reldir("m", "v1"), "model.onnx").unlink()

    with pytest.raises(TamperedArtifactError, match=r"model\.onnx is missing from file://"):
        load_model(saved.uri)


def test_missing_or_incomplete_version_is_not_found(store: ArtifactStore, saved: LoadedModel) -> None:
    Path(store.root, model_reldir("m", "v1"), "_COMPLETE").unlink()

    with pytest.raises(ArtifactNotFoundError):
        load_model(saved.uri)
    with pytest.raises(ArtifactNotFoundError):
        load_model(f"file://{store.root}/models/m/v404")


def test_model_file_with_an_untrusted_type_is_refused(store: ArtifactStore) -> None:
    X, y = _frame()
    pipeline = Pipeline([("model", LogisticRegression())]).fit(X, y)
    pipeline.steps[0][1].evil = Intruder()  # a type no trainer pipeline holds
    result = save_model(store, pipeline, _metadata("v2"), check_frame=None)

    with pytest.raises(UntrustedTypeError, match="Intruder"):
        load_model(result.uri)


def test_model_file_is_a_skops_archive_not_a_pickle(saved: LoadedModel, store: ArtifactStore) -> None:
    data = Path(store.root, model_reldir("m", "v1"), "model.skops").read_bytes()

    assert zipfile.is_zipfile(io.BytesIO(data))
    assert "schema.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert skops.io.get_untrusted_types(data=data) == []


def test_model_without_held_out_rows_is_saved_without_onnx(store: ArtifactStore) -> None:
    X, y = _frame()
    pipeline = Pipeline([("model", LogisticRegression())]).fit(X, y)
    result = save_model(store, pipeline, _metadata("v3"), check_frame=None)

    assert result.formats == ["skops"]
    assert result.metadata.onnx.reason == "no held-out rows to verify an export on"


def test_unconvertible_model_records_why_it_has_no_onnx(store: ArtifactStore) -> None:
    X, _ = _frame()
    y = X["a"] * 3.0
    pipeline = Pipeline([("model", HistGradientBoostingRegressor(max_iter=5))]).fit(X, y)
    result = save_model(store, pipeline, _metadata("v4", "regression"), check_frame=X)

    assert result.formats == ["skops"]
    assert result.metadata.onnx.reason
    assert load_model(result.uri).onnx_bytes is None
