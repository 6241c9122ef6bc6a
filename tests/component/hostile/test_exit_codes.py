"""#9.10: data a retry cannot fix exits 2 (the Job fails at once) with a message naming the real problem."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK

from .conftest import Trainer, error_of, prepare


def _csv_dataset(trainer: Trainer, store: str, tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "cm" / "rows.csv"
    path.parent.mkdir(exist_ok=True)
    frame.to_csv(path, index=False)
    spec = {"source": {"configMap": {"name": "cm", "key": "rows.csv"}}, "target": "label"}
    done = trainer(
        "prepare", "--name", "rows", "--store", store, "--spec-json", json.dumps(spec), "--source-dir", str(path.parent)
    )
    assert done.run.returncode == EXIT_OK, done.run.stderr


def _train(trainer: Trainer, store: str, algorithm: str) -> tuple[int, str]:
    done = trainer("train", "--name", "m", "--store", store, "--dataset", "rows", "--algorithm", algorithm)
    return done.run.returncode, error_of(done) if done.run.returncode else ""


@pytest.mark.parametrize("algorithm", ["random_forest", "logistic_regression"])
def test_a_single_class_target_fails_with_a_clear_message_before_any_export(
    trainer: Trainer, store_uri: str, tmp_path: Path, algorithm: str
) -> None:
    rng = np.random.default_rng(0)
    _csv_dataset(trainer, store_uri, tmp_path, pd.DataFrame({"x": rng.normal(size=80), "label": ["yes"] * 80}))

    code, error = _train(trainer, store_uri, algorithm)

    # Before: random_forest aborted inside ONNX Runtime (exit 134, no termination message) and
    # logistic_regression failed inside scikit-learn (exit 1); the Job retried both.
    assert code == EXIT_BAD_INPUT
    assert error == "target 'label' has 1 class in the dataset (80 rows): a classifier needs at least two"


def test_a_continuous_target_for_a_classifier_names_the_real_problem(
    trainer: Trainer, store_uri: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    _csv_dataset(
        trainer, store_uri, tmp_path, pd.DataFrame({"x": rng.normal(size=80), "label": rng.normal(size=80) * 100})
    )

    code, error = _train(trainer, store_uri, "logistic_regression")

    assert code == EXIT_BAD_INPUT
    assert "spec.task: classification needs class labels, but target 'label' holds continuous values" in error
    assert "stratified" not in error


def test_infinity_in_a_csv_is_bad_input_naming_the_column(trainer: Trainer, store_uri: str, tmp_path: Path) -> None:
    path = tmp_path / "cm" / "rows.csv"
    path.parent.mkdir()
    path.write_text("x,big,label\n" + "".join(f"{i},{i}.5,{i % 2}\n" for i in range(40)) + "1,1e400,0\n2,inf,1\n")
    spec = {"source": {"configMap": {"name": "cm", "key": "rows.csv"}}, "target": "label"}

    probe = prepare(trainer, store_uri, spec, "--source-dir", str(path.parent))

    # Before: stored, then the fit failed inside scikit-learn with exit 1 (retried).
    assert probe.run.returncode == EXIT_BAD_INPUT
    assert error_of(probe) == (
        "data-quality gate failed: column 'big' has 2 infinite values (inf, -inf, or beyond float range)"
    )


def test_a_store_path_that_is_a_file_is_bad_input_not_transient(trainer: Trainer, tmp_path: Path) -> None:
    blocker = tmp_path / "store"
    blocker.write_text("not a directory")

    probe = trainer("prepare", "--name", "iris", "--store", f"file://{blocker}", "--builtin", "iris")

    # Before: NotADirectoryError was taken for storage trouble: exit 75, retried.
    assert probe.run.returncode == EXIT_BAD_INPUT
    assert error_of(probe).startswith(f"the store's layout is broken at file://{blocker}/default/datasets/iris/")
    assert "Not a directory" in error_of(probe)
