"""Helpers of the trainer's component tests: run the CLI, build dirty data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    message: dict[str, Any] | None  # the termination message, parsed

    @property
    def result(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stdout.strip().splitlines()[-1])
        return parsed


RunTrainer = Callable[..., CliRun]

# Keep each fit on one core: the suite runs on 2 cores next to other work.
_BASE_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_cli(
    args: Sequence[str], *, termination: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> CliRun:
    """Run `python -m modelops.trainer ARGS` with the kubelet's termination-message env var set."""
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **_BASE_ENV,
        "TERMINATION_MESSAGE_PATH": str(termination),
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "modelops.trainer", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    message = json.loads(termination.read_text()) if termination.exists() else None
    return CliRun(done.returncode, done.stdout, done.stderr, message)


def make_dirty_frame(rows: int = 240, seed: int = 7) -> tuple[pd.DataFrame, dict[str, int]]:
    """Customer-like rows with known defects; returns the frame and how many of each it has."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 70, rows),
            "income": rng.normal(50_000, 12_000, rows).round(2),
            "city": rng.choice(["paris", "lyon", "nice"], rows),
            "email": [f"user{i}@example.com" for i in range(rows)],
        }
    )
    frame["churn"] = np.where(frame["income"] + rng.normal(0, 8_000, rows) > 50_000, "no", "yes")
    frame.loc[[3, 50], "age"] = [450, 999]  # outliers
    missing_income = [5, 17, 40, 88, 120, 160]
    frame.loc[missing_income, "income"] = np.nan
    frame.loc[[9, 99], "city"] = None
    duplicates = frame.iloc[200:210]
    dirty = pd.concat([frame, duplicates], ignore_index=True)
    return dirty, {"duplicates": 10, "missing_income": len(missing_income), "missing_city": 2, "outliers": 2}
