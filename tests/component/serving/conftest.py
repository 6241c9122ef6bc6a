"""The real server: `python -m modelops.serving` under uvicorn on a loopback port.

The model is made the way a TrainingRun Job makes it: `python -m modelops.trainer
prepare` then `train` into a file:// store (breast_cancer, a small random forest).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .serving_server import TEST_SETTINGS, Server, StartServer, TrainedModel, launch, run_trainer, server_env


@pytest.fixture(scope="session")
def cancer_model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """A random forest on breast_cancer, trained and saved by the trainer's CLI."""
    root = tmp_path_factory.mktemp("serving-store")
    store = f"file://{root / 'store'}"
    run_trainer(["prepare", "--name", "cancer", "--store", store, "--builtin", "breast_cancer"], root / "t1")
    spec = {
        "model": {"algorithm": "random_forest", "hyperparameters": {"n_estimators": 20}},
        "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 1},
    }
    result = run_trainer(
        ["train", "--name", "cancer-rf", "--store", store, "--dataset", "cancer", "--spec-json", json.dumps(spec)],
        root / "t2",
    )
    assert "onnx" in result["formats"]
    return TrainedModel(uri=result["uri"], name="cancer-rf", version=result["version"])


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start `python -m modelops.serving` with the given flags and MODELOPS_SERVING_* settings."""
    servers: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None, wait: bool = True) -> Server:
        server = launch(args, tmp_path / f"server-{len(servers)}.log", server_env(env))
        servers.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server(cancer_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by a module's tests (they leave it serving)."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    running = launch([], log, server_env({**TEST_SETTINGS, "MODELOPS_SERVING_MODEL_URI": cancer_model.uri}))
    running.wait_ready()
    yield running
    assert running.stop() == 0, running.output()
