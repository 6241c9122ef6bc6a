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


def _cli_env(termination: Path, env: dict[str, str] | None) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODELOPS_"))},
        **_BASE_ENV,
        "TERMINATION_MESSAGE_PATH": str(termination),
        **(env or {}),
    }


def _message(termination: Path) -> dict[str, Any] | None:
    parsed: dict[str, Any] | None = json.loads(termination.read_text()) if termination.exists() else None
    return parsed


def run_cli(
    args: Sequence[str], *, termination: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> CliRun:
    """Run `python -m modelops.trainer ARGS` with the kubelet's termination-message env var set."""
    done = subprocess.run(
        [sys.executable, "-m", "modelops.trainer", *args],
        capture_output=True,
        text=True,
        env=_cli_env(termination, env),
        timeout=timeout,
    )
    return CliRun(done.returncode, done.stdout, done.stderr, _message(termination))


@dataclass(frozen=True)
class Measured:
    """A finished child process, its own peak resident memory (the kernel's rusage of it) and duration."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_mib: float
    seconds: float


# A child's ru_maxrss counts the memory it shared with its parent before exec: forked from this
# test process (hundreds of MiB by then), every child would look that big. So a small launcher
# (python -S, ~10 MiB) forks the measured child, reaps it with wait4 and reports its rusage.
_LAUNCHER = """
import json, os, sys, time
argv, out, err, timeout, report = json.loads(sys.argv[1])
started = time.monotonic()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
    os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
    os.execv(argv[0], argv)
while True:
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() - started > timeout:
        os.kill(pid, 9)
        done, status, usage = os.wait4(pid, 0)
        break
    time.sleep(0.02)
result = {"status": status, "maxrss_kib": usage.ru_maxrss, "seconds": time.monotonic() - started}
with open(report, "w") as f:
    json.dump(result, f)
"""


def run_measured(argv: Sequence[str], *, workdir: Path, env: dict[str, str], timeout: float = 180) -> Measured:
    """Run `argv` and measure its own peak RSS (the kernel's rusage of that child, via `_LAUNCHER`)."""
    out_path, err_path, report = workdir / "stdout", workdir / "stderr", workdir / "rusage.json"
    request = json.dumps([list(argv), str(out_path), str(err_path), timeout, str(report)])
    subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, request], env=env, check=True, timeout=timeout + 30)
    result = json.loads(report.read_text())
    if result["seconds"] > timeout:
        raise TimeoutError(f"{list(argv)[:3]} ran longer than {timeout} s")
    return Measured(
        os.waitstatus_to_exitcode(result["status"]),
        out_path.read_text(),
        err_path.read_text(),
        peak_rss_mib=result["maxrss_kib"] / 1024,
        seconds=result["seconds"],
    )


def run_python_measured(code: str, *, workdir: Path, timeout: float = 180) -> Measured:
    """`python -c CODE` in this environment (no AWS_ or MODELOPS_ variables), measured."""
    return run_measured(
        [sys.executable, "-c", code], workdir=workdir, env=_cli_env(workdir / "t", None), timeout=timeout
    )


@dataclass(frozen=True)
class MeasuredRun:
    """A trainer run with its peak RSS and duration."""

    run: CliRun
    peak_rss_mib: float
    seconds: float


def run_cli_measured(
    args: Sequence[str], *, workdir: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> MeasuredRun:
    """`run_cli`, measured."""
    termination = workdir / "termination"
    done = run_measured(
        [sys.executable, "-m", "modelops.trainer", *args],
        workdir=workdir,
        env=_cli_env(termination, env),
        timeout=timeout,
    )
    run = CliRun(done.returncode, done.stdout, done.stderr, _message(termination))
    return MeasuredRun(run, peak_rss_mib=done.peak_rss_mib, seconds=done.seconds)


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
