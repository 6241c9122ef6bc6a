"""Signatures over model versions (OpenSSF model-signing, elliptic-curve keys), made and checked.

The sha256 sums in `metadata.json` prove only that the files match the metadata: whoever can
write to the store can rewrite both. A signature made with a private key that only the train Jobs
hold covers every file of the version, `metadata.json` included, so a version changed by anyone
else fails to verify against the public key the serving pods hold.

The signature is `model.sig`, a Sigstore bundle (model-signing's format, verifiable with its CLI
on a copy of the version's files) over the version's files laid out in a directory named after
the version. Verification accepts a public key file or a directory of `*.pem` public keys, so a
key can be rotated without downtime: serve with old and new public keys until every served
version is signed with the new one (README, "Signed models").
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from modelops.artifacts.errors import ArtifactError

SIGNATURE_FILE = "model.sig"


class SigningKeyError(ArtifactError):
    """The private or public key cannot be read or is not an elliptic-curve key in PEM."""


class SignatureError(ArtifactError):
    """A model version is unsigned where a signature is required, or its signature does not verify."""


def _lay_out(files: Mapping[str, bytes], into: Path) -> Path:
    into.mkdir()
    for name, data in files.items():
        (into / name).write_bytes(data)
    return into


def public_key_fingerprint(private_key: str | Path) -> str:
    """sha256 of the DER public key that goes with `private_key`: which key signs, as an input of a version."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(Path(private_key).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise SigningKeyError(f"cannot load the signing key {private_key}: {type(e).__name__}: {e}") from e
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def sign_files(files: Mapping[str, bytes], *, private_key: str | Path, subject: str) -> bytes:
    """The signature (`model.sig` content) over `files`, laid out in a directory named `subject`."""
    from model_signing import signing

    with tempfile.TemporaryDirectory(prefix="modelops-sign-") as scratch:
        model = _lay_out(files, Path(scratch) / subject)
        signature = Path(scratch) / SIGNATURE_FILE
        try:
            signer = signing.Config().use_elliptic_key_signer(private_key=private_key)  # type: ignore[no-untyped-call]
            signer.sign(model, signature)
        except (OSError, ValueError, TypeError) as e:
            raise SigningKeyError(f"cannot sign with {private_key}: {type(e).__name__}: {e}") from e
        return signature.read_bytes()


def public_keys(location: str | Path) -> list[Path]:
    """The public key at `location`, or every `*.pem` in it when it is a directory (sorted)."""
    path = Path(location)
    keys = sorted(path.glob("*.pem")) if path.is_dir() else [path] if path.is_file() else []
    if not keys:
        raise SigningKeyError(f"no public key at {location} (a PEM file, or a directory of *.pem files)")
    return keys


def verify_files(files: Mapping[str, bytes], signature: bytes, *, keys: list[Path], subject: str, uri: str) -> None:
    """Raise SignatureError unless one of `keys` verifies `signature` over exactly `files`."""
    from model_signing import verifying

    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="modelops-verify-") as scratch:
        model = _lay_out(files, Path(scratch) / subject)
        bundle = Path(scratch) / SIGNATURE_FILE
        bundle.write_bytes(signature)
        for key in keys:
            try:
                verifier = verifying.Config().use_elliptic_key_verifier(public_key=key)  # type: ignore[no-untyped-call]
                verifier.verify(model, bundle)
                return
            except Exception as e:  # model-signing raises ValueError, KeyError, protobuf errors...
                problems.append(f"{key.name}: {_first_line(e)}")
    raise SignatureError(f"the signature of {uri} does not verify ({'; '.join(problems)}): refusing to load it")


# model-signing words a manifest difference as "Hash mismatch for 'name': Expected Digest(...)..."
# (quotes escaped, digests as byte reprs): the names are what a person needs.
_CHANGED = re.compile(r"Hash mismatch for \\*'([^'\\]+)")
_LISTED = re.compile(r"(Extra|Missing) files [^:]*: ([^\]\"]+)")


def _first_line(e: BaseException) -> str:
    text = str(e)
    if changed := _CHANGED.findall(text):
        return f"changed since signing: {', '.join(sorted(set(changed)))}"
    if listed := _LISTED.search(text):
        return f"{listed.group(1).lower()} files: {listed.group(2).strip()}"
    lines = text.strip().splitlines()
    return f"{type(e).__name__}: {lines[0][:200] if lines else ''}"
