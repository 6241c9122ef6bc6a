"""Errors raised at the artifact-store boundary.

Callers decide on retries from the class alone: `StorageUnavailableError` is
transient (network, server errors), every other `ArtifactError` is permanent.
"""

from __future__ import annotations


class ArtifactError(Exception):
    """Base class of everything the artifact layer raises."""


class InvalidArtifactURIError(ArtifactError, ValueError):
    """A URI has an unsupported scheme or does not name an artifact."""


class ArtifactNotFoundError(ArtifactError, LookupError):
    """A version (or a file of it) is missing, or was never marked complete."""


class TamperedArtifactError(ArtifactError):
    """A file's sha256 does not match the one recorded in its version's metadata."""

    def __init__(self, uri: str, file: str, expected: str, actual: str | None) -> None:
        self.uri = uri
        self.file = file
        self.expected = expected
        self.actual = actual
        if actual is None:
            message = f"{file} is missing from {uri} although its metadata records it: refusing to load it"
        else:
            message = (
                f"{file} in {uri} does not match its recorded sha256 "
                f"(expected {expected[:12]}..., got {actual[:12]}...): refusing to load it"
            )
        super().__init__(message)


class StorageAccessDeniedError(ArtifactError, PermissionError):
    """The store refused the credentials; retrying cannot help until they change."""


class StorageLayoutError(ArtifactError):
    """A file stands where the store needs a directory (or the reverse); retrying cannot help."""


class StorageUnavailableError(ArtifactError):
    """The store could not be reached or failed; a retry may succeed."""
