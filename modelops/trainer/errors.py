"""Errors of the trainer, split by whether a retry can help.

`modelops.trainer.cli.main` is the one place that turns them into exit codes and
termination messages.
"""

from __future__ import annotations


class TrainerError(Exception):
    """Base class of the trainer's expected failures."""


class BadInputError(TrainerError):
    """The spec, the data or a referenced artifact is wrong; retrying cannot help."""


class SpecError(BadInputError):
    """The spec JSON or a flag is invalid (names the field)."""


class SourceError(BadInputError):
    """The data source cannot be read or parsed."""


class QualityGateError(BadInputError):
    """The data failed one or more data-quality gates (each names its check and column)."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__("data-quality gate failed: " + "; ".join(failures))


class DatasetNotFoundError(BadInputError):
    """The dataset (or the pinned version of it) has no complete version in the store."""


class TransientError(TrainerError):
    """Network or storage trouble; a retry may succeed."""
