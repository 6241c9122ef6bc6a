"""#9.2: two namespaces with identically named Datasets and models share a store and never touch
each other's artifacts: neither reads the other's versions nor overwrites a byte of them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelops.artifacts.dataset_format import load_dataset
from modelops.artifacts.model_format import load_model
from modelops.artifacts.store import ArtifactStore, open_artifact
from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK
from modelops.testing.s3server import S3Server

from .conftest import Trainer

TENANTS = ("team-a", "team-b")


def _rows(tenant: str) -> pd.DataFrame:
    """Different data per tenant, under the same names: 60 rows for one, 90 for the other."""
    n = 60 if tenant == "team-a" else 90
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "noise": rng.normal(size=n), "label": np.where(x > 0, "yes", "no")})


def _snapshot(store: ArtifactStore, namespace: str) -> dict[str, str]:
    """sha256 of every file under a namespace's prefix."""
    base = store._path(namespace)
    paths = [p for p in store.fs.find(base) if not p.endswith("/")]
    return {p.removeprefix(base): hashlib.sha256(store.fs.cat_file(p)).hexdigest() for p in paths}


def _both_tenants(trainer: Trainer, store_uri: str, tmp_path: Path, env: dict[str, str]) -> dict[str, dict[str, str]]:
    """Prepare `customers` and train `churn` in each namespace; their results, by namespace."""
    results: dict[str, dict[str, str]] = {}
    for tenant in TENANTS:
        source = tmp_path / tenant / "customers.csv"
        source.parent.mkdir()
        _rows(tenant).to_csv(source, index=False)
        spec = {"source": {"configMap": {"name": "customers", "key": "customers.csv"}}, "target": "label"}
        common = ("--name", "customers", "--namespace", tenant, "--store", store_uri)
        prepared = trainer(
            "prepare", *common, "--spec-json", json.dumps(spec), "--source-dir", str(source.parent), env=env
        )
        assert prepared.run.returncode == EXIT_OK, prepared.run.stderr
        trained = trainer(
            "train",
            *("--name", "churn", "--namespace", tenant, "--store", store_uri),
            *("--dataset", "customers", "--algorithm", "logistic_regression"),
            env=env,
        )
        assert trained.run.returncode == EXIT_OK, trained.run.stderr
        results[tenant] = {"dataset": prepared.run.result["artifact"], "model": trained.run.result["uri"]}
        if tenant == TENANTS[0]:
            results["snapshot-a"] = _snapshot(ArtifactStore.from_uri(store_uri, **_options(env)), tenant)
    return results


def _options(env: dict[str, str]) -> dict[str, Any]:
    """How this process opens the store the Jobs were given (the S3 server's endpoint and keys)."""
    if "AWS_ACCESS_KEY_ID" not in env:
        return {}
    keys = {"key": env["AWS_ACCESS_KEY_ID"], "secret": env["AWS_SECRET_ACCESS_KEY"]}
    return {"endpoint_url": env["AWS_ENDPOINT_URL"], "storage_options": keys}


@pytest.fixture(params=["file", "s3"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    if request.param == "file":
        return f"file://{tmp_path / 'store'}", {}
    server: S3Server = request.getfixturevalue("s3_server")
    return f"s3://{server.bucket}/tenants-{tmp_path.name}", dict(server.env)


def test_same_names_in_two_namespaces_never_share_an_artifact(
    trainer: Trainer, tmp_path: Path, shared_store: tuple[str, dict[str, str]]
) -> None:
    store_uri, env = shared_store
    results = _both_tenants(trainer, store_uri, tmp_path, env)
    store = ArtifactStore.from_uri(store_uri, **_options(env))

    a, b = results["team-a"], results["team-b"]
    assert a["dataset"].startswith(f"{store_uri}/team-a/datasets/customers/")
    assert b["dataset"].startswith(f"{store_uri}/team-b/datasets/customers/")
    assert a["model"].startswith(f"{store_uri}/team-a/models/churn/")
    assert b["model"].startswith(f"{store_uri}/team-b/models/churn/")
    # Each reads its own rows and trained on its own dataset version.
    for tenant, rows in (("team-a", 60), ("team-b", 90)):
        dataset_store, reldir = open_artifact(results[tenant]["dataset"], **_options(env))
        assert len(load_dataset(dataset_store, reldir).frame) == rows
        model = load_model(results[tenant]["model"], **_options(env))
        assert model.metadata.dataset == f"customers@{results[tenant]['dataset'].rsplit('/', 1)[-1]}"
    # Writing team-b's versions changed no byte of team-a's.
    assert _snapshot(store, "team-a") == results["snapshot-a"]


def test_a_namespace_cannot_train_on_another_namespaces_dataset_version(
    trainer: Trainer, tmp_path: Path, shared_store: tuple[str, dict[str, str]]
) -> None:
    store_uri, env = shared_store
    source = tmp_path / "team-a" / "customers.csv"
    source.parent.mkdir()
    _rows("team-a").to_csv(source, index=False)
    spec = {"source": {"configMap": {"name": "customers", "key": "customers.csv"}}, "target": "label"}
    prepared = trainer(
        "prepare",
        *("--name", "customers", "--namespace", "team-a", "--store", store_uri),
        *("--spec-json", json.dumps(spec), "--source-dir", str(source.parent)),
        env=env,
    )
    version = prepared.run.result["version"]

    probe = trainer(
        "train",
        *("--name", "churn", "--namespace", "team-b", "--store", store_uri),
        *("--dataset", f"customers@{version}", "--algorithm", "logistic_regression"),
        env=env,
    )

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert probe.run.message is not None
    assert (
        f"dataset 'customers' has no complete version '{version}' in {store_uri}/team-b/" in probe.run.message["error"]
    )
