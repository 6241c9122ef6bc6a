"""ArtifactStore on local filesystems: URIs, atomic versions, listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelops.artifacts.errors import ArtifactNotFoundError, InvalidArtifactURIError
from modelops.artifacts.store import COMPLETE_MARKER, ArtifactStore, open_artifact


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore.from_uri(f"file://{tmp_path}/root")


def test_file_pvc_and_plain_paths_open_the_same_local_root(tmp_path: Path) -> None:
    uris = [f"file://{tmp_path}", f"pvc://{tmp_path}", f"pvc:/{tmp_path}", str(tmp_path)]
    roots = {ArtifactStore.from_uri(uri).root for uri in uris}

    assert roots == {str(tmp_path)}
    assert ArtifactStore.from_uri(f"pvc://{tmp_path}").uri("models/a/v1") == f"pvc://{tmp_path}/models/a/v1"


def test_s3_uri_keeps_bucket_and_prefix() -> None:
    store = ArtifactStore.from_uri("s3://bucket/some/prefix/", endpoint_url="http://127.0.0.1:1")

    assert store.root == "bucket/some/prefix"
    assert store.uri("models/m/v1") == "s3://bucket/some/prefix/models/m/v1"


@pytest.mark.parametrize("uri", ["gs://bucket/x", "s3:///no-bucket", "http://example/x"])
def test_unsupported_or_malformed_store_uri_is_refused(uri: str) -> None:
    with pytest.raises(InvalidArtifactURIError):
        ArtifactStore.from_uri(uri)


def test_written_version_is_complete_and_readable(store: ArtifactStore) -> None:
    uri = store.write_version("models/m/v1", {"a.bin": b"\x00\x01", "nested/b.txt": b"b"})

    assert uri == store.uri("models/m/v1")
    assert store.is_complete("models/m/v1")
    assert store.read_bytes("models/m/v1/nested/b.txt") == b"b"
    assert store.completed_at("models/m/v1") is not None


def test_local_write_leaves_no_temporary_directory(store: ArtifactStore) -> None:
    store.write_version("models/m/v1", {"a": b"a"})

    assert sorted(p.name for p in Path(store.root, "models", "m").iterdir()) == ["v1"]


def test_version_without_marker_is_neither_complete_nor_listed(store: ArtifactStore) -> None:
    half = Path(store.root, "models", "m", "v0")
    half.mkdir(parents=True)
    (half / "model.skops").write_bytes(b"half")
    store.write_version("models/m/v1", {"a": b"a"})

    assert not store.is_complete("models/m/v0")
    assert store.list_versions("models/m") == ["v1"]


def test_incomplete_leftover_is_replaced_by_the_next_write(store: ArtifactStore) -> None:
    half = Path(store.root, "models", "m", "v1")
    half.mkdir(parents=True)
    (half / "stale.bin").write_bytes(b"stale")
    store.write_version("models/m/v1", {"a": b"a"})

    assert not (half / "stale.bin").exists()
    assert store.is_complete("models/m/v1")


def test_rewriting_a_complete_version_keeps_its_files_and_makes_it_latest(store: ArtifactStore) -> None:
    store.write_version("datasets/d/aaa", {"data": b"first"})
    store.write_version("datasets/d/bbb", {"data": b"second"})
    assert store.latest_version("datasets/d") == "bbb"

    store.write_version("datasets/d/aaa", {"data": b"ignored"})

    assert store.read_bytes("datasets/d/aaa/data") == b"first"
    assert store.list_versions("datasets/d") == ["bbb", "aaa"]


def test_listing_an_unknown_prefix_is_empty(store: ArtifactStore) -> None:
    assert store.list_versions("models/none") == []
    assert store.latest_version("models/none") is None


def test_missing_file_raises_not_found(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFoundError, match="not found"):
        store.read_bytes("models/m/v1/model.skops")


@pytest.mark.parametrize("bad", ["../outside", "models/../../x", "models/m/v1/../../../.."])
def test_paths_cannot_escape_the_store(store: ArtifactStore, bad: str) -> None:
    with pytest.raises(InvalidArtifactURIError):
        store.read_bytes(bad)


@pytest.mark.parametrize("name", [COMPLETE_MARKER, "../x", ""])
def test_version_file_names_are_checked(store: ArtifactStore, name: str) -> None:
    with pytest.raises(InvalidArtifactURIError):
        store.write_version("models/m/v1", {name: b"x"})


def test_marker_records_a_timestamp(store: ArtifactStore) -> None:
    store.write_version("models/m/v1", {"a": b"a"})

    assert set(json.loads(store.read_bytes(f"models/m/v1/{COMPLETE_MARKER}"))) == {"ns", "completed_at"}


@pytest.mark.parametrize(
    ("uri", "root", "reldir"),
    [
        ("s3://b/p/q/models/m/v1", "s3://b/p/q", "models/m/v1"),
        ("s3://b/datasets/d/v2/", "s3://b", "datasets/d/v2"),
        ("file:///srv/store/models/m/v1", "file:///srv/store", "models/m/v1"),
        ("pvc://mnt/models/models/m/v1", "pvc:///mnt/models", "models/m/v1"),
    ],
)
def test_artifact_uri_splits_into_store_and_version_dir(uri: str, root: str, reldir: str) -> None:
    store, rel = open_artifact(uri, endpoint_url="http://127.0.0.1:1") if uri.startswith("s3") else open_artifact(uri)

    assert (store.root_uri, rel) == (root, reldir)


@pytest.mark.parametrize("uri", ["s3://b/models/m", "file:///x/other/m/v1"])
def test_uri_that_names_no_version_is_refused(uri: str) -> None:
    with pytest.raises(InvalidArtifactURIError, match="does not name an artifact version"):
        open_artifact(uri)
