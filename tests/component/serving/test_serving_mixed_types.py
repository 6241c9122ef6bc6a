"""A dataset with string categories and missing values: prepare, train, serve, and infer with standard clients.

The model metadata advertises one input per feature with its own datatype (BYTES for categories),
so tritonclient's HTTP and gRPC clients send exactly what it lists, missing values included
(NaN in a number's tensor, the empty string in a category's), and get the fitted pipeline's
predictions. Datatypes are enforced against the feature schema in every form.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http

from modelops.artifacts.model_format import load_model

from .serving_server import TEST_SETTINGS, Server, TrainedModel, run_trainer

FEATURES = ["island", "bill_length_mm", "flipper_length_mm", "sex"]


def penguins(rows: int = 400, seed: int = 3) -> pd.DataFrame:
    """Made-up penguins: two string categories and a number with gaps, an integer without."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], rows)
    island = np.where(species == "Gentoo", "Biscoe", rng.choice(["Dream", "Torgersen", "Biscoe"], rows)).astype(object)
    bill = np.where(species == "Adelie", 38.8, np.where(species == "Chinstrap", 48.8, 47.5)) + rng.normal(0, 2, rows)
    flipper = np.where(species == "Gentoo", 217, 192) + rng.integers(-8, 8, rows)
    sex = rng.choice(["male", "female"], rows).astype(object)
    columns = {"island": island, "bill_length_mm": bill.round(1), "flipper_length_mm": flipper, "sex": sex}
    frame = pd.DataFrame({**columns, "species": species})
    for column in ("island", "bill_length_mm", "sex"):
        frame.loc[rng.random(rows) < 0.06, column] = None
    return frame


@pytest.fixture(scope="module")
def penguin_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainedModel, pd.DataFrame]:
    root = tmp_path_factory.mktemp("penguins")
    sources = root / "sources"
    sources.mkdir()
    frame = penguins()
    frame.to_csv(sources / "penguins.csv", index=False)
    store = f"file://{root / 'store'}"
    dataset = {"source": {"configMap": {"name": "penguins", "key": "penguins.csv"}}, "target": "species"}
    run_trainer(
        ["prepare", "--name", "penguins", "--store", store, "--source-dir", str(sources),
         "--spec-json", json.dumps(dataset)],
        root / "t1",
    )  # fmt: skip
    spec = {"model": {"algorithm": "random_forest", "hyperparameters": {"n_estimators": 15}}, "split": {"seed": 2}}
    trained = run_trainer(
        ["train", "--name", "penguins-rf", "--store", store, "--dataset", "penguins", "--spec-json", json.dumps(spec)],
        root / "t2",
    )
    held_out = penguins(rows=60, seed=99)[FEATURES]
    return TrainedModel(uri=trained["uri"], name="penguins-rf", version=trained["version"]), held_out


@pytest.fixture(scope="module")
def penguin_server(penguin_model: tuple[TrainedModel, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from .serving_server import launch, server_env

    model, _ = penguin_model
    log = tmp_path_factory.mktemp("penguin-server") / "server.log"
    running = launch([], log, server_env({**TEST_SETTINGS, "MODELOPS_SERVING_MODEL_URI": model.uri}))
    running.wait_ready()
    yield running
    assert running.stop() == 0, running.output()


def _expected(model: TrainedModel, rows: pd.DataFrame) -> list[str]:
    return [str(v) for v in load_model(model.uri).pipeline.predict(rows).tolist()]


def _labels(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel().tolist()]


def _column(rows: pd.DataFrame, tensor: dict[str, Any]) -> Any:
    """A feature's column as the numpy array its advertised datatype calls for; missing as NaN or ""."""
    column = rows[tensor["name"]]
    if tensor["datatype"] == "BYTES":
        return np.array(["" if pd.isna(v) else str(v) for v in column], dtype=object)
    return column.to_numpy(dtype={"FP64": np.float64, "INT64": np.int64}[tensor["datatype"]])


def test_metadata_advertises_one_input_per_feature_with_its_own_datatype(
    penguin_server: Server, penguin_model: tuple[TrainedModel, pd.DataFrame]
) -> None:
    model, _ = penguin_model
    inputs = httpx.get(f"{penguin_server.url}/v2/models/{model.name}").json()["inputs"]

    assert [(i["name"], i["datatype"], i["shape"]) for i in inputs] == [
        ("island", "BYTES", [-1]),
        ("bill_length_mm", "FP64", [-1]),
        ("flipper_length_mm", "INT64", [-1]),
        ("sex", "BYTES", [-1]),
    ]


@pytest.mark.parametrize("transport", ["http-binary", "http-json", "grpc"])
def test_tritonclient_infers_with_the_advertised_per_feature_tensors_missing_values_included(
    penguin_server: Server, penguin_model: tuple[TrainedModel, pd.DataFrame], transport: str
) -> None:
    model, rows = penguin_model
    assert rows.isna().any().any()
    if transport == "grpc":
        client: Any = triton_grpc.InferenceServerClient(penguin_server.grpc_target)
        advertised = client.get_model_metadata(model.name, as_json=True)["inputs"]
        infer_input, options = triton_grpc.InferInput, {}
    else:
        client = triton_http.InferenceServerClient(f"127.0.0.1:{penguin_server.port}")
        advertised = client.get_model_metadata(model.name)["inputs"]
        infer_input, options = triton_http.InferInput, {"binary_data": transport == "http-binary"}
    inputs = []
    for tensor in advertised:
        inputs.append(infer_input(tensor["name"], [len(rows)], tensor["datatype"]))
        inputs[-1].set_data_from_numpy(_column(rows, tensor), **options)

    answer = client.infer(model.name, inputs)

    assert _labels(answer.as_numpy("predict")) == _expected(model, rows)
    client.close()


def test_json_rows_and_one_bytes_tensor_give_the_same_predictions(
    penguin_server: Server, penguin_model: tuple[TrainedModel, pd.DataFrame]
) -> None:
    model, rows = penguin_model
    cells = [[None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row] for row in rows.to_numpy()]
    matrix = {"inputs": [{"name": "rows", "shape": [len(rows), 4], "datatype": "BYTES", "data": cells}]}

    via_tensor = httpx.post(f"{penguin_server.url}/v2/models/{model.name}/infer", json=matrix).json()
    via_predict = httpx.post(f"{penguin_server.url}/predict", json={"instances": cells}).json()

    expected = _expected(model, rows)
    assert via_tensor["outputs"][0]["data"] == expected
    assert via_predict["predictions"] == expected


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([{"name": "rows", "shape": [1, 4], "datatype": "FP64", "data": ["Dream", 39.1, 190, "male"]}],
         "input 'rows' is FP64 but features 'island', 'sex' are categories"),
        ([{"name": "island", "shape": [1], "datatype": "FP64", "data": [1.0]}],
         "input 'island' is FP64 but feature 'island' is a category: send it as BYTES"),
        ([{"name": "bill_length_mm", "shape": [1], "datatype": "BYTES", "data": ["39.1"]}],
         "input 'bill_length_mm' is BYTES but feature 'bill_length_mm' is a number"),
        ([{"name": "flipper_length_mm", "shape": [1], "datatype": "BOOL", "data": [True]}],
         "input 'flipper_length_mm' is BOOL but feature 'flipper_length_mm' is an integer"),
        ([{"name": "rows", "shape": [1, 4], "datatype": "BYTES", "data": ["Dream", "long", 190, "male"]}],
         "feature 'bill_length_mm' expects a number but row 0 has str 'long'"),
    ],
)  # fmt: skip
def test_datatypes_are_enforced_against_the_feature_schema(
    penguin_server: Server, penguin_model: tuple[TrainedModel, pd.DataFrame], inputs: list[Any], message: str
) -> None:
    model, _ = penguin_model
    complete = {
        "island": {"name": "island", "shape": [1], "datatype": "BYTES", "data": ["Dream"]},
        "bill_length_mm": {"name": "bill_length_mm", "shape": [1], "datatype": "FP64", "data": [39.1]},
        "flipper_length_mm": {"name": "flipper_length_mm", "shape": [1], "datatype": "INT64", "data": [190]},
        "sex": {"name": "sex", "shape": [1], "datatype": "BYTES", "data": ["male"]},
    }
    if inputs[0]["name"] in complete:
        complete[inputs[0]["name"]] = inputs[0]
        inputs = list(complete.values())

    answer = httpx.post(f"{penguin_server.url}/v2/models/{model.name}/infer", json={"inputs": inputs})

    assert answer.status_code == 422, answer.text
    assert message in answer.json()["error"]


def test_the_features_with_gaps_in_the_data_are_the_nullable_ones(
    penguin_model: tuple[TrainedModel, pd.DataFrame],
) -> None:
    model, _ = penguin_model
    schema = {f.name: (f.type, f.nullable) for f in load_model(model.uri).metadata.features}

    assert schema == {
        "island": ("category", True),
        "bill_length_mm": ("number", True),
        "flipper_length_mm": ("integer", False),
        "sex": ("category", True),
    }
