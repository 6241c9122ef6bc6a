"""The hostile-input suite (issue #9): each test sends what an attacker with `create` rights on our
CRs, or write access to the store, would send, and asserts the refusal: the exit code and message
a Job reports to status, or a bounded peak RSS of the child that read it.

Everything runs on this machine: HTTP servers on loopback addresses, files in tmp_path, the
S3-compatible server of `modelops.testing.s3server`. Targets that must never be reached (cloud
metadata, private networks) are asserted to be refused before any connection is attempted.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.component.trainer.trainer_cli import MeasuredRun, run_cli_measured

# What the prepare Job's environment holds and an attacker wants to read back through status.
SECRET = "hostile-probe-secret-3f9a1c"
SECRET_ENV = {"AWS_SECRET_ACCESS_KEY": SECRET, "MODELOPS_PROBE_TOKEN": SECRET}

Trainer = Callable[..., MeasuredRun]


@pytest.fixture
def trainer(tmp_path: Path) -> Trainer:
    """Run `python -m modelops.trainer ARGS` as a Job would, measuring the child's peak RSS."""
    counter = itertools.count()

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> MeasuredRun:
        workdir = tmp_path / f"run-{next(counter)}"
        workdir.mkdir()
        return run_cli_measured(args, workdir=workdir, env={**SECRET_ENV, **(env or {})}, timeout=timeout)

    return run


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'store'}"


def prepare(trainer: Trainer, store: str, spec: dict[str, Any], *flags: str, **kwargs: Any) -> MeasuredRun:
    """`prepare` as the operator's Dataset Job calls it: the whole spec as JSON."""
    return trainer("prepare", "--name", "probe", "--store", store, "--spec-json", json.dumps(spec), *flags, **kwargs)


def error_of(measured: MeasuredRun) -> str:
    """The termination message's error: what the operator copies into status."""
    message = measured.run.message
    assert message is not None and "error" in message, (measured.run.stdout, measured.run.stderr)
    error: str = message["error"]
    return error
