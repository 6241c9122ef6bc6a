"""Dataset and model versions round-trip through a real S3-compatible server on loopback."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from modelops.artifacts.errors import ArtifactNotFoundError, TamperedArtifactError
from modelops.artifacts.model_format import load_model
from modelops.artifacts.store import ArtifactStore, open_artifact, s3_filesystem
from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK
from modelops.testing.s3server import S3Server

from .trainer_cli import CliRun, RunTrainer


def _on_s3(run_trainer: RunTrainer, s3_server: S3Server, command: str, name: str, store: str, *args: str) -> CliRun:
    """Run a trainer command against the S3 server, with the credentials a Job gets from its Secret."""
    return run_trainer(command, "--name", name, "--store", store, *args, env=s3_server.env)


def test_prepare_and_train_round_trip_through_s3(run_trainer: RunTrainer, s3_server: S3Server) -> None:
    store = f"s3://{s3_server.bucket}/roundtrip"
    prepared = _on_s3(run_trainer, s3_server, "prepare", "iris", store, "--builtin", "iris")
    trained = _on_s3(
        run_trainer, s3_server, "train", "iris-lr", store, "--dataset", "iris", "--algorithm", "logistic_regression"
    )

    assert prepared.returncode == EXIT_OK, prepared.stderr
    assert prepared.result["artifact"].startswith(f"{store}/default/datasets/iris/")
    assert trained.returncode == EXIT_OK, trained.stderr
    assert trained.result["uri"] == f"{store}/default/models/iris-lr/{trained.result['version']}"
    model = load_model(
        trained.result["uri"],
        endpoint_url=s3_server.endpoint,
        storage_options={"key": s3_server.access_key, "secret": s3_server.secret_key},
    )
    assert model.metadata.dataset == f"iris@{prepared.result['version']}"
    assert model.onnx_bytes is not None


def test_s3_object_is_a_dataset_source(run_trainer: RunTrainer, s3_server: S3Server, s3_env: dict[str, str]) -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"x": range(40), "y": [i % 2 for i in range(40)]}).to_parquet(buffer)
    s3_filesystem().pipe_file(f"{s3_server.bucket}/raw/rows.parquet", buffer.getvalue())
    spec = {"source": {"s3": {"bucket": s3_server.bucket, "key": "raw/rows.parquet"}}, "target": "y"}
    missing = {"source": {"s3": {"bucket": s3_server.bucket, "key": "raw/none.csv"}}}
    store = f"s3://{s3_server.bucket}/src"

    ok = _on_s3(run_trainer, s3_server, "prepare", "rows", store, "--spec-json", json.dumps(spec))
    bad = _on_s3(run_trainer, s3_server, "prepare", "rows", store, "--spec-json", json.dumps(missing))

    assert ok.returncode == EXIT_OK, ok.stderr
    assert ok.result["rows"] == 40
    assert bad.returncode == EXIT_BAD_INPUT
    assert bad.message is not None and "source object not found: s3://" in bad.message["error"]


def test_s3_version_without_marker_is_not_complete(s3_env: dict[str, str], s3_server: S3Server) -> None:
    store = ArtifactStore.from_uri(f"s3://{s3_server.bucket}/partial")
    store.fs.pipe_file(f"{store.root}/models/m/v1/model.skops", b"half written")
    store.write_version("models/m/v2", {"metadata.json": b"{}"})

    assert not store.is_complete("models/m/v1")
    assert store.list_versions("models/m") == ["v2"]
    with pytest.raises(ArtifactNotFoundError, match="no complete model version"):
        load_model(store.uri("models/m/v1"))


def test_tampered_s3_model_is_refused_naming_the_file(
    run_trainer: RunTrainer, s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    store_uri = f"s3://{s3_server.bucket}/tamper"
    prepared = _on_s3(run_trainer, s3_server, "prepare", "wine", store_uri, "--builtin", "wine")
    assert prepared.returncode == EXIT_OK, prepared.stderr
    trained = _on_s3(run_trainer, s3_server, "train", "wine-knn", store_uri, "--dataset", "wine", "--algorithm", "knn")
    assert trained.returncode == EXIT_OK, trained.stderr
    store, reldir = open_artifact(trained.result["uri"])
    store.fs.pipe_file(f"{store.root}/{reldir}/model.onnx", b"not the exported model")

    with pytest.raises(TamperedArtifactError, match=r"model\.onnx in s3://.* does not match its recorded sha256"):
        load_model(trained.result["uri"])
