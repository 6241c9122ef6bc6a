"""What a ModelDeployment's monitoring says changes what its server measures, through the operator's contract."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from modelops.api.common import ModelVersion
from modelops.api.objects import ModelDeployment
from modelops.artifacts.model_format import LoadedModel
from modelops.operator.builders.deployment import serving_deployment
from modelops.operator.settings import OperatorSettings
from modelops.serving.app import create_app
from modelops.serving.service import ModelService
from modelops.serving.settings import ServingSettings

from .conftest import Client
from .test_serving_app import metric_samples, v2

URI = "file:///store/ns/models/iris/0123456789abcdef"


def server_told(threshold: float, monkeypatch: pytest.MonkeyPatch) -> ServingSettings:
    """The settings a serving pod parses from the Deployment the operator builds for this threshold."""
    md = ModelDeployment.model_validate(
        {
            "metadata": {"name": "iris", "namespace": "ns", "uid": "u"},
            "spec": {"model": {"uri": URI}, "monitoring": {"drift": {"method": "psi", "threshold": threshold}}},
        }
    )
    settings = OperatorSettings(store="file:///store", image="img")
    (container,) = serving_deployment(md, ModelVersion(uri=URI, version="v1"), settings)["spec"]["template"]["spec"][
        "containers"
    ]
    for item in container["env"]:
        if "value" in item:  # the feedback key comes from a Secret: the server draws its own without it
            monkeypatch.setenv(item["name"], item["value"])
    monkeypatch.setenv("MODELOPS_SERVING_DRIFT_MIN_ROWS", "10")
    monkeypatch.setenv("MODELOPS_SERVING_STATS_CACHE_SECONDS", "0")
    return ServingSettings()


def drifted_features(iris: tuple[LoadedModel, pd.DataFrame], settings: ServingSettings, client_of: Any) -> float:
    model, held_out = iris
    service = ModelService(settings)
    service.install(model)
    client: Client = client_of(create_app(service))
    # A moderate shift: some features drift past a low threshold, none past a high one.
    assert client.post("/v2/models/iris/infer", json=v2((held_out.to_numpy() + 0.4).tolist())).status_code == 200
    samples = metric_samples(client.get("/metrics").text)
    return samples[("modelops_drift_features_drifted", (("method", "psi"),))]


def test_the_specs_drift_threshold_decides_how_many_features_the_server_counts_drifted(
    iris: tuple[LoadedModel, pd.DataFrame], monkeypatch: pytest.MonkeyPatch, make_client: Any
) -> None:
    strict = drifted_features(iris, server_told(0.05, monkeypatch), make_client)
    lenient = drifted_features(iris, server_told(50.0, monkeypatch), make_client)

    assert strict >= 1
    assert lenient == 0
