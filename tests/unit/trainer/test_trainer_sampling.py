"""`spec.split.maxRows`: a seeded, stratified sample of the rows, and only the needed columns read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.api.dataset import DatasetSpec
from modelops.api.trainingrun import TrainingRunSpec
from modelops.artifacts.dataset_format import FetchedDataset
from modelops.artifacts.store import ArtifactStore
from modelops.contract.jobs import SourceLimits
from modelops.trainer.prepare import run_prepare
from modelops.trainer.sampling import sample_rows
from modelops.trainer.sources import SourceLocations
from modelops.trainer.train import run_train


def test_stratified_sample_keeps_each_class_share_and_is_seeded() -> None:
    labels = pd.Series(["a"] * 700 + ["b"] * 200 + ["c"] * 100)
    sample = sample_rows(1000, 101, seed=7, labels=labels)
    assert sample.stratified
    assert sample.rows.size == 101 and np.all(np.diff(sample.rows) > 0)
    # 70.7, 20.2, 10.1: the leftover row goes to the largest remainder
    assert labels.iloc[sample.rows].value_counts().to_dict() == {"a": 71, "b": 20, "c": 10}
    assert np.array_equal(sample.rows, sample_rows(1000, 101, seed=7, labels=labels).rows)
    assert not np.array_equal(sample.rows, sample_rows(1000, 101, seed=8, labels=labels).rows)
    assert sample.metrics() == {"rows": 101, "of": 1000, "seed": 7, "stratified": True}


def test_plain_sample_and_no_sample_under_the_limit() -> None:
    sample = sample_rows(1000, 10, seed=1)
    assert not sample.stratified and sample.rows.size == 10 and len(set(sample.rows.tolist())) == 10
    assert sample_rows(5, 10, seed=1).rows.tolist() == [0, 1, 2, 3, 4]


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    rng = np.random.default_rng(0)
    rows = 600
    frame = pd.DataFrame({"x": rng.normal(size=rows), "z": rng.normal(size=rows), "extra": rng.normal(size=rows)})
    frame["label"] = np.where(np.arange(rows) % 4 == 0, "rare", "common")
    source = tmp_path / "data.csv"
    frame.to_csv(source, index=False)
    store = ArtifactStore.from_uri(f"file://{tmp_path / 'store'}")
    spec = DatasetSpec.model_validate(
        {"source": {"url": {"url": "https://example.invalid/data.csv"}}, "target": "label", "features": ["x", "z"]}
    )
    locations = SourceLocations(source_file=str(source))
    run_prepare(name="big", store=store, spec=spec, locations=locations, limits=SourceLimits())
    return store


def _spec(**split: object) -> TrainingRunSpec:
    return TrainingRunSpec.model_validate(
        {
            "datasetRef": {"name": "big"},
            "model": {"algorithm": "random_forest", "hyperparameters": {"n_estimators": 5}},
            "split": split,
        }
    )


def test_train_beyond_max_rows_fits_a_stated_sample_of_the_needed_columns(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[list[str] | None] = []
    read = FetchedDataset.read

    def spy(self: FetchedDataset, columns: list[str] | None = None, rows: object = None) -> pd.DataFrame:
        reads.append(None if columns is None else list(columns))
        return read(self, columns, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(FetchedDataset, "read", spy)
    result = run_train(name="sampled", store=store, spec=_spec(maxRows=200))
    assert result.sample == {"rows": 200, "of": 600, "seed": 42, "stratified": True}
    assert reads == [["label"], ["x", "z", "label"]]  # the label to sample on, then the sample's features
    metadata = json.loads(Path(result.uri.removeprefix("file://"), "metadata.json").read_text())
    assert metadata["metrics"]["sample"] == result.sample
    evaluated = [np.sum(metadata["metrics"][s]["confusion_matrix"]) for s in ("train", "validation", "test")]
    assert sum(evaluated) == 200

    whole = run_train(name="whole", store=store, spec=_spec())
    assert whole.sample is None
    assert whole.version != result.version
