"""#9.13: a model version is signed at training time and verified before it is loaded.

sha256 sums in metadata.json prove integrity only: whoever may write the store can rewrite them.
Each probe here is such a writer; each must be refused by `load_model` given the public key, and
the server must exit with the reason (which the operator shows as the ModelDeployment's `Degraded`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelops.artifacts.model_format import (
    METADATA_FILE,
    MODEL_FILE,
    SIGNATURE_FILE,
    SignatureError,
    load_model,
)
from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK
from modelops.testing.s3server import free_port
from tests.component.trainer.trainer_cli import run_cli


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def make_key(directory: Path, name: str) -> KeyPair:
    """What README's "Signed models" does with openssl: a P-256 key pair in PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / f"{name}-private.pem", directory / f"{name}.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return KeyPair(private, public)


@dataclass(frozen=True)
class Trained:
    store: Path
    key: KeyPair
    signed: str  # URI of a signed version
    other: str  # URI of another (unsigned) version of another model


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("signed")
    key = make_key(root / "keys", "train")
    store = f"file://{root / 'store'}"
    uris = []
    for args in (
        ["prepare", "--name", "iris", "--store", store, "--builtin", "iris"],
        ["train", "--name", "m", "--store", store, "--dataset", "iris", "--algorithm", "logistic_regression",
         "--signing-key", str(key.private)],
        ["train", "--name", "other", "--store", store, "--dataset", "iris", "--algorithm", "decision_tree"],
    ):  # fmt: skip
        done = run_cli(args, termination=root / "t")
        assert done.returncode == EXIT_OK, done.stderr
        uris.append(done.result.get("uri", ""))
    return Trained(root / "store", key, signed=uris[1], other=uris[2])


def _copy(uri: str, into: Path) -> tuple[str, Path]:
    """The version at `uri`, copied into a fresh store under the same namespace/models/<name>/<version>."""
    source = Path(uri.removeprefix("file://"))
    relative = source.relative_to(source.parents[3])
    target = into / "store" / relative
    shutil.copytree(source, target)
    return f"file://{target}", target


def _rewrite_hash(version: Path, name: str) -> None:
    metadata = json.loads((version / METADATA_FILE).read_text())
    metadata["files"][name] = hashlib.sha256((version / name).read_bytes()).hexdigest()
    (version / METADATA_FILE).write_text(json.dumps(metadata, indent=2))


def test_a_trained_version_carries_a_signature_that_verifies(trained: Trained) -> None:
    version = Path(trained.signed.removeprefix("file://"))

    assert (version / SIGNATURE_FILE).exists()
    model = load_model(trained.signed, public_key=str(trained.key.public), require_signature=True)
    assert model.metadata.algorithm == "logistic_regression"


def test_a_swapped_model_file_with_rewritten_hashes_is_refused(trained: Trained, tmp_path: Path) -> None:
    uri, version = _copy(trained.signed, tmp_path)
    other = Path(trained.other.removeprefix("file://"))
    shutil.copy(other / MODEL_FILE, version / MODEL_FILE)
    _rewrite_hash(version, MODEL_FILE)

    assert load_model(uri).metadata.algorithm == "logistic_regression"  # the hole: hashes alone pass
    with pytest.raises(
        SignatureError, match=r"does not verify \(train.pem: changed since signing: metadata.json, model.skops\)"
    ):
        load_model(uri, public_key=str(trained.key.public))


def test_metadata_edited_alone_is_refused(trained: Trained, tmp_path: Path) -> None:
    uri, version = _copy(trained.signed, tmp_path)
    metadata = json.loads((version / METADATA_FILE).read_text())
    metadata["metrics"]["test"]["accuracy"] = 1.0  # a model promoted on forged metrics
    (version / METADATA_FILE).write_text(json.dumps(metadata, indent=2))

    with pytest.raises(
        SignatureError, match=r"\(train.pem: changed since signing: metadata.json\): refusing to load it"
    ):
        load_model(uri, public_key=str(trained.key.public))


def test_a_version_signed_with_another_key_is_refused(trained: Trained, tmp_path: Path) -> None:
    stranger = make_key(tmp_path / "keys", "stranger")

    with pytest.raises(SignatureError, match="Key mismatch"):
        load_model(trained.signed, public_key=str(stranger.public))


def test_a_deleted_signature_is_refused_when_signatures_are_required(trained: Trained, tmp_path: Path) -> None:
    uri, version = _copy(trained.signed, tmp_path)
    (version / SIGNATURE_FILE).unlink()

    with pytest.raises(SignatureError, match=r"is not signed \(model.sig is missing\) and signatures are required"):
        load_model(uri, public_key=str(trained.key.public), require_signature=True)


def test_required_signatures_without_a_public_key_refuse_everything(trained: Trained) -> None:
    with pytest.raises(SignatureError, match="no public key is configured"):
        load_model(trained.signed, require_signature=True)


def test_rotation_a_directory_of_public_keys_accepts_either(trained: Trained, tmp_path: Path) -> None:
    keys = tmp_path / "public"
    keys.mkdir()
    shutil.copy(trained.key.public, keys / "old.pem")
    shutil.copy(make_key(tmp_path / "new", "new").public, keys / "new.pem")

    assert load_model(trained.signed, public_key=str(keys), require_signature=True).metadata.name == "m"


def test_a_new_signing_key_makes_a_new_version(trained: Trained, tmp_path: Path) -> None:
    rotated = make_key(tmp_path / "keys", "rotated")
    store = f"file://{trained.store}"
    done = run_cli(
        ["train", "--name", "m", "--store", store, "--dataset", "iris", "--algorithm", "logistic_regression",
         "--signing-key", str(rotated.private)],
        termination=tmp_path / "t",
    )  # fmt: skip

    assert done.returncode == EXIT_OK, done.stderr
    assert done.result["uri"] != trained.signed
    load_model(done.result["uri"], public_key=str(rotated.public), require_signature=True)


def test_an_unreadable_signing_key_fails_the_job_at_once(trained: Trained, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    done = run_cli(
        ["train", "--name", "m", "--store", f"file://{trained.store}", "--dataset", "iris",
         "--algorithm", "logistic_regression", "--signing-key", str(bogus)],
        termination=tmp_path / "t",
    )  # fmt: skip

    assert done.returncode == EXIT_BAD_INPUT
    assert done.message is not None and done.message["error"].startswith(f"cannot load the signing key {bogus}")


def _serve(uri: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m modelops.serving` as a serving pod runs it; it must exit on its own (bounded by timeout)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("MODELOPS_")}
    full |= {"MODELOPS_SERVING_MODEL_URI": uri, "MODELOPS_SERVING_HOST": "127.0.0.1"}
    full |= {"MODELOPS_SERVING_PORT": str(free_port()), **env}
    return subprocess.run(
        [sys.executable, "-m", "modelops.serving"], capture_output=True, text=True, env=full, timeout=120
    )


def test_the_server_exits_with_the_reason_on_an_unsigned_model(trained: Trained) -> None:
    env = {
        "MODELOPS_SERVING_SIGNING_PUBLIC_KEY": str(trained.key.public),
        "MODELOPS_SERVING_SIGNATURE_REQUIRED": "true",
    }

    done = _serve(trained.other, env)

    assert done.returncode == 1
    assert f"error: cannot serve {trained.other}: {trained.other} is not signed (model.sig is missing)" in done.stderr


def test_the_server_exits_with_the_reason_on_a_badly_signed_model(trained: Trained, tmp_path: Path) -> None:
    uri, version = _copy(trained.signed, tmp_path)
    metadata = json.loads((version / METADATA_FILE).read_text())
    metadata["hyperparameters"]["C"] = 1e6
    (version / METADATA_FILE).write_text(json.dumps(metadata))
    env = {
        "MODELOPS_SERVING_SIGNING_PUBLIC_KEY": str(trained.key.public),
        "MODELOPS_SERVING_SIGNATURE_REQUIRED": "true",
    }

    done = _serve(uri, env)

    assert done.returncode == 1
    assert f"error: cannot serve {uri}: the signature of {uri} does not verify" in done.stderr
