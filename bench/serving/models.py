"""Train the benchmark models with the trainer's own building blocks and save them.

Two breast_cancer classifiers: a random forest (100 trees) and a scaler +
logistic regression pipeline. Each is written to a modelops artifact store
(model.skops + verified model.onnx + metadata.json) for our server, and as a
joblib file for MLServer's sklearn runtime (benchmark only). The held-out rows
are saved too, to check both servers predict exactly what scikit-learn does.

    python bench/serving/models.py OUT_DIR
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from modelops.artifacts.metadata import ModelMetadata, OnnxExport
from modelops.artifacts.model_format import save_model
from modelops.artifacts.store import ArtifactStore
from modelops.trainer.algorithms import get_algorithm, make_estimator
from modelops.trainer.pipeline import build_pipeline
from modelops.trainer.profiling import feature_schema, profile_frame
from modelops.trainer.sources import load_builtin

MODELS = {
    "rf": ("random_forest", {"n_estimators": 100}),
    "lr": ("logistic_regression", {}),
}


def train(algorithm_name: str, hyperparameters: dict[str, Any], seed: int = 0) -> tuple[Any, ModelMetadata, Any]:
    frame = load_builtin("breast_cancer")
    target = "target"
    features = [c for c in frame.columns if c != target]
    x_train, x_test, y_train, _ = train_test_split(
        frame[features], frame[target], test_size=0.25, random_state=seed, stratify=frame[target]
    )
    schema = feature_schema(x_train, features, nullable=features)
    algorithm = get_algorithm(algorithm_name)
    estimator = make_estimator(algorithm, "classification", hyperparameters, seed, field_path="spec.model")
    pipeline = build_pipeline(schema, estimator, scale=algorithm.scale).fit(x_train, y_train)
    metadata = ModelMetadata(
        name=f"breast-cancer-{algorithm_name.replace('_', '-')}",
        version="v1",
        task="classification",
        algorithm=algorithm_name,
        hyperparameters=hyperparameters,
        target=target,
        features=schema,
        classes=[str(c) for c in pipeline.classes_],
        metrics={},
        dataset="breast_cancer@bench",
        profile=profile_frame(x_train, features),
        onnx=OnnxExport(exported=False),
        libraries={},
        files={},
    )
    return pipeline, metadata, x_test


def for_arrays(pipeline: Any, columns: list[str]) -> Any:
    """The same fitted pipeline behind a step that names the columns of a bare array.

    The trainer's pipelines select columns by name (ColumnTransformer), so they need a
    DataFrame; MLServer's sklearn runtime hands the model the V2 tensor as an ndarray.
    This wrapper (picklable without any module of ours) makes the frame, exactly as our
    own scikit-learn runtime does.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame = FunctionTransformer(functools.partial(pd.DataFrame, columns=columns))
    frame.fit(None)
    return Pipeline([("frame", frame), ("fitted", pipeline)])


def main(out: Path) -> dict[str, Any]:
    import joblib

    out.mkdir(parents=True, exist_ok=True)
    store = ArtifactStore.from_uri(str(out / "store"))
    written: dict[str, Any] = {}
    for key, (algorithm, hyperparameters) in MODELS.items():
        pipeline, metadata, x_test = train(algorithm, hyperparameters)
        saved = save_model(store, pipeline, metadata, check_frame=x_test)
        mlserver_dir = out / "mlserver" / key
        mlserver_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump(for_arrays(pipeline, list(x_test.columns)), mlserver_dir / "model.joblib")
        (mlserver_dir / "model-settings.json").write_text(
            json.dumps({"name": key, "implementation": "mlserver_sklearn.SKLearnModel"})
        )
        rows = x_test.to_numpy().tolist()
        expected = pipeline.predict(pd.DataFrame(rows, columns=x_test.columns)).tolist()
        assert for_arrays(pipeline, list(x_test.columns)).predict(x_test.to_numpy()).tolist() == expected
        (out / f"{key}-check.json").write_text(json.dumps({"rows": rows, "expected": expected}))
        written[key] = {"uri": saved.uri, "name": metadata.name, "formats": saved.formats}
    (out / "models.json").write_text(json.dumps(written, indent=2))
    return written


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1])), indent=2))
