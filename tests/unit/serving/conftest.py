"""Small real models for the serving unit tests, built with the trainer's building blocks.

Each is saved with `save_model` (skops + verified ONNX) and loaded back with
`load_model`, so the tests serve exactly what a deployment would load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split

from modelops.api.modeldeployment import DriftMonitoring
from modelops.artifacts.dataset_format import ColumnCleaning
from modelops.artifacts.metadata import ModelMetadata, OnnxExport, Task
from modelops.artifacts.model_format import LoadedModel, load_model, save_model
from modelops.artifacts.store import ArtifactStore
from modelops.serving.app import create_app
from modelops.serving.service import ModelService
from modelops.serving.settings import ServingSettings
from modelops.trainer.pipeline import build_pipeline
from modelops.trainer.profiling import feature_schema, profile_frame
from modelops.trainer.sources import load_builtin


def save_model_of(
    root: Path,
    name: str,
    frame: pd.DataFrame,
    target: str,
    estimator: Any,
    task: Task,
    *,
    nullable: Collection[str] | None = None,
    cleaning: dict[str, ColumnCleaning] | None = None,
    scale: bool = True,
) -> tuple[LoadedModel, pd.DataFrame]:
    """Fit the trainer's pipeline on `frame` and save it as a Job would; the model and its held-out rows."""
    features = [c for c in frame.columns if c != target]
    x_train, x_test, y_train, _ = train_test_split(frame[features], frame[target], test_size=0.3, random_state=0)
    schema = feature_schema(x_train, features, nullable=features if nullable is None else nullable)
    pipeline = build_pipeline(schema, estimator, scale=scale, cleaning=cleaning).fit(x_train, y_train)
    classes = [c.item() if hasattr(c, "item") else c for c in pipeline.classes_] if task == "classification" else None
    metadata = ModelMetadata(
        name=name,
        version="v1",
        task=task,
        algorithm=type(estimator).__name__,
        hyperparameters={},
        target=target,
        features=schema,
        classes=classes,
        metrics={},
        dataset=f"{name}@test",
        profile=profile_frame(x_train, features),
        onnx=OnnxExport(exported=False),
        libraries={},
        files={},
    )
    saved = save_model(ArtifactStore.from_uri(str(root / "store")), pipeline, metadata, check_frame=x_test)
    return load_model(saved.uri), x_test


@pytest.fixture(scope="session")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedModel, pd.DataFrame]:
    """A 3-class logistic regression on iris (4 numeric features), and its held-out rows."""
    frame = load_builtin("iris")
    return save_model_of(
        tmp_path_factory.mktemp("iris"), "iris", frame, "target", LogisticRegression(max_iter=500), "classification"
    )


@pytest.fixture(scope="session")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedModel, pd.DataFrame]:
    """A regression over number, integer, boolean and category features."""
    rng = np.random.default_rng(0)
    rows = 300
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 2, rows),
            "rooms": rng.integers(1, 6, rows),
            "garden": rng.random(rows) > 0.5,
            "city": rng.choice(["paris", "lyon", "nice"], rows),
        }
    )
    frame["price"] = frame["size"] * 3 + frame["rooms"] + frame["garden"] * 2 + (frame["city"] == "paris") * 5
    return save_model_of(tmp_path_factory.mktemp("mixed"), "houses", frame, "price", LinearRegression(), "regression")


class Client:
    """A synchronous client calling the ASGI app in-process on its own event loop.

    (Starlette's TestClient warns that its httpx backend is deprecated, and warnings are
    errors here.) No lifespan runs: the services under test are installed beforehand.
    """

    def __init__(self, app: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


def settings(**overrides: Any) -> ServingSettings:
    base: dict[str, Any] = {
        "model_uri": "file:///unused/ns/models/x/0123456789abcdef",
        "drift": DriftMonitoring(window=200),
        "drift_min_rows": 50,
        "stats_cache_seconds": 0,
        "feedback_min_samples": 1,
    }
    return ServingSettings(**{**base, **overrides})


@pytest.fixture
def make_settings() -> Any:
    """Settings for tests: small windows, statistics recomputed at every scrape."""
    return settings


@pytest.fixture
def make_client() -> Iterator[Any]:
    """Call an ASGI app synchronously: `make_client(app).post(...)`."""
    clients: list[Client] = []

    def make(app: Any) -> Client:
        clients.append(Client(app))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def service_serving(model: LoadedModel, **overrides: Any) -> ModelService:
    """A service with `model` installed, as after a successful startup (no lifespan runs)."""
    service = ModelService(settings(**overrides))
    service.install(model)
    return service


def client_of(service: ModelService) -> Iterator[Client]:
    client = Client(create_app(service))
    yield client
    client.close()


@pytest.fixture
def iris_service(iris: tuple[LoadedModel, pd.DataFrame]) -> ModelService:
    return service_serving(iris[0])


@pytest.fixture
def iris_client(iris_service: ModelService) -> Iterator[Client]:
    yield from client_of(iris_service)


@pytest.fixture
def mixed_service(mixed: tuple[LoadedModel, pd.DataFrame]) -> ModelService:
    return service_serving(mixed[0])


@pytest.fixture
def mixed_client(mixed_service: ModelService) -> Iterator[Client]:
    yield from client_of(mixed_service)
