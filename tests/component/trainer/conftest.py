"""Run the trainer as the Jobs do: `python -m modelops.trainer` in a subprocess."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from .trainer_cli import CliRun, RunTrainer, make_dirty_frame, run_cli


@pytest.fixture
def run_trainer(tmp_path: Path) -> RunTrainer:
    counter = itertools.count()

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> CliRun:
        return run_cli(args, termination=tmp_path / f"termination-{next(counter)}", env=env, timeout=timeout)

    return run


@pytest.fixture(scope="module")
def iris_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store holding the iris dataset, shared by a module's tests that only read it."""
    root = tmp_path_factory.mktemp("iris-store")
    store = f"file://{root / 'store'}"
    done = run_cli(["prepare", "--name", "iris", "--store", store, "--builtin", "iris"], termination=root / "t")
    assert done.returncode == 0, done.stderr
    return store


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'store'}"


@pytest.fixture
def dirty_csv(tmp_path: Path) -> tuple[Path, dict[str, int], pd.DataFrame]:
    frame, defects = make_dirty_frame()
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    return path, defects, frame
