"""The result channel: stdout plus a termination message of at most 4 KB; errors map to exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.artifacts.errors import (
    ArtifactNotFoundError,
    StorageAccessDeniedError,
    StorageUnavailableError,
    TamperedArtifactError,
)
from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_TRANSIENT
from modelops.contract.termination import MAX_BYTES, PATH_ENV, termination_path
from modelops.trainer.cli import main, outcome_of
from modelops.trainer.errors import QualityGateError, SourceError, SpecError, TransientError
from modelops.trainer.termination import fit_payload, report


@settings(max_examples=50, deadline=None)
@given(
    error=st.text(max_size=20_000),
    reasons=st.lists(st.text(max_size=2_000), max_size=30),
    hyper=st.dictionaries(st.text(max_size=50), st.text(max_size=500), max_size=40),
)
def test_any_payload_is_shrunk_to_fit_4kb_as_valid_json(error: str, reasons: list[str], hyper: dict[str, str]) -> None:
    for payload in (
        {"error": error, "reason": "BadInput"},
        {"name": "m", "reasons": reasons, "best_hyperparameters": hyper},
    ):
        text = fit_payload(payload)

        assert len(text.encode()) <= MAX_BYTES
        assert isinstance(json.loads(text), dict)


def test_small_payload_is_unchanged() -> None:
    assert json.loads(fit_payload({"a": 1, "b": [1, 2]})) == {"a": 1, "b": [1, 2]}


def test_path_precedence_is_flag_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PATH_ENV, "/from/env")
    assert termination_path("/from/flag") == ("/from/flag", True)
    assert termination_path(None) == ("/from/env", True)
    monkeypatch.delenv(PATH_ENV)
    assert termination_path(None) == ("/dev/termination-log", False)


def test_report_writes_file_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "msg"
    report({"version": "v1"}, path=str(target))

    assert json.loads(target.read_text()) == {"version": "v1"} == json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SpecError("x"), EXIT_BAD_INPUT),
        (SourceError("x"), EXIT_BAD_INPUT),
        (QualityGateError(["x"]), EXIT_BAD_INPUT),
        (ArtifactNotFoundError("x"), EXIT_BAD_INPUT),
        (TamperedArtifactError("u", "f", "a", "b"), EXIT_BAD_INPUT),
        (StorageAccessDeniedError("x"), EXIT_BAD_INPUT),
        (TransientError("x"), EXIT_TRANSIENT),
        (StorageUnavailableError("x"), EXIT_TRANSIENT),
        (RuntimeError("bug"), EXIT_INTERNAL),
    ],
)
def test_errors_map_to_exit_codes(error: Exception, code: int) -> None:
    assert outcome_of(error)[0] == code


def test_cli_usage_error_is_bad_input_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "msg"

    code = main(["train", "--name", "m", "--termination-message-path", str(target)])

    assert code == EXIT_BAD_INPUT
    message = json.loads(capsys.readouterr().out)
    assert message["reason"] == "BadInput" and "--store, --dataset" in message["error"]
