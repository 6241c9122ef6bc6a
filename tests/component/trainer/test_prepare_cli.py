"""`python -m modelops.trainer prepare` on real data, as a Dataset Job runs it."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelops.artifacts.dataset_format import load_dataset
from modelops.artifacts.metadata import DatasetProfile, NumericProfile
from modelops.artifacts.store import open_artifact
from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK, EXIT_TRANSIENT, DatasetResult

from .trainer_cli import CliRun, RunTrainer

DIRTY_SPEC = {
    "source": {"configMap": {"name": "customers", "key": "customers.csv"}},
    "target": "churn",
    "cleaning": {
        "dropDuplicates": True,
        "missingValues": {"strategy": "median"},
        "outliers": {"method": "iqr", "action": "clip", "threshold": 3.0},
    },
    "validation": {
        "minRows": 100,
        "maxMissingFraction": 0.1,
        "columns": [{"name": "churn", "allowedValues": ["yes", "no"]}, {"name": "age", "type": "integer"}],
    },
    "governance": {"piiColumns": ["email"], "piiAction": "hash"},
}


# The test servers listen on loopback, which a URL source may reach only when the operator allows it.
LOOPBACK_ALLOWED = {"MODELOPS_SOURCE_ALLOWED_HOSTS": "127.0.0.1"}


def _prepare(
    run_trainer: RunTrainer, store_uri: str, name: str, spec: dict[str, Any], *flags: str, **kwargs: Any
) -> CliRun:
    """`prepare` as the operator's Dataset Job calls it: the whole spec as JSON, plus ``flags``."""
    return run_trainer(
        "prepare", "--name", name, "--store", store_uri, "--spec-json", json.dumps(spec), *flags, **kwargs
    )


def _version_files(artifact: str) -> dict[str, bytes]:
    store, reldir = open_artifact(artifact)
    names = [p.rsplit("/", 1)[-1] for p in store.fs.ls(store._path(reldir), detail=False)]
    return {name: store.read_bytes(f"{reldir}/{name}") for name in names}


def test_builtin_dataset_is_versioned_profiled_and_reported(run_trainer: RunTrainer, store_uri: str) -> None:
    run = _prepare(run_trainer, store_uri, "iris", {"source": {"builtin": {"name": "iris"}}})

    assert run.returncode == EXIT_OK, run.stderr
    assert run.message == run.result
    assert len(json.dumps(run.message).encode()) < 4096
    result = DatasetResult.model_validate(run.message)
    assert (result.rows, result.columns) == (149, 5)  # iris repeats one row; duplicates are dropped by default
    assert result.quality["duplicates_dropped"] == 1
    files = _version_files(result.artifact)
    assert {"data.parquet", "profile.json", "report.html", "dataset.json", "_COMPLETE"} <= set(files)
    profile = DatasetProfile.model_validate_json(files["profile.json"])
    petal = profile.features["petal length (cm)"]
    assert isinstance(petal, NumericProfile)
    assert petal.count == 149 and sum(petal.bin_counts) == 149 and len(petal.bin_edges) == len(petal.bin_counts) + 1
    assert "target" not in profile.features


def test_report_is_a_standalone_html_page_with_png_plots(run_trainer: RunTrainer, store_uri: str) -> None:
    run = run_trainer("prepare", "--name", "wine", "--store", store_uri, "--builtin", "wine")
    assert run.returncode == EXIT_OK, run.stderr
    html = _version_files(run.result["artifact"])["report.html"].decode()

    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    images = [part.split('"', 1)[0] for part in html.split('src="data:image/png;base64,')[1:]]
    assert len(images) >= 2  # histograms and correlations
    for encoded in images:
        assert base64.b64decode(encoded).startswith(b"\x89PNG\r\n\x1a\n")
    assert "http://" not in html and "https://" not in html  # renders offline


def test_same_data_gives_the_same_version_and_changed_data_a_new_one(
    run_trainer: RunTrainer, store_uri: str, dirty_csv: tuple[Path, dict[str, int], pd.DataFrame]
) -> None:
    path, _, frame = dirty_csv
    source_dir = ("--source-dir", str(path.parent))
    first = _prepare(run_trainer, store_uri, "customers", DIRTY_SPEC, *source_dir)
    again = _prepare(run_trainer, store_uri, "customers", DIRTY_SPEC, *source_dir)
    frame.loc[0, "income"] = 1.0
    frame.to_csv(path, index=False)
    changed = _prepare(run_trainer, store_uri, "customers", DIRTY_SPEC, *source_dir)

    assert (first.returncode, again.returncode, changed.returncode) == (EXIT_OK, EXIT_OK, EXIT_OK)
    assert first.result["version"] == again.result["version"]
    assert changed.result["version"] != first.result["version"]


def test_dirty_csv_is_cleaned_and_pii_never_reaches_the_store(
    run_trainer: RunTrainer, store_uri: str, dirty_csv: tuple[Path, dict[str, int], pd.DataFrame]
) -> None:
    path, defects, frame = dirty_csv
    run = _prepare(run_trainer, store_uri, "customers", DIRTY_SPEC, "--source-dir", str(path.parent))

    assert run.returncode == EXIT_OK, run.stderr
    quality = run.result["quality"]
    assert quality["duplicates_dropped"] == defects["duplicates"]
    assert quality["values_imputed"] == defects["missing_income"] + defects["missing_city"]
    assert quality["outliers_clipped"] >= defects["outliers"]
    assert quality["pii_columns"] == 1
    store, reldir = open_artifact(run.result["artifact"])
    stored = load_dataset(store, reldir).frame
    assert len(stored) == len(frame) - defects["duplicates"]
    assert stored.isna().sum().sum() == 0
    assert stored["age"].max() < 450
    for content in _version_files(run.result["artifact"]).values():
        assert b"@example.com" not in content
    assert stored["email"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_dropped_pii_column_is_absent_from_data_profile_and_report(
    run_trainer: RunTrainer, store_uri: str, dirty_csv: tuple[Path, dict[str, int], pd.DataFrame]
) -> None:
    path, _, _ = dirty_csv
    spec = {**DIRTY_SPEC, "governance": {"piiColumns": ["email"], "piiAction": "drop"}}
    run = _prepare(run_trainer, store_uri, "customers", spec, "--source-dir", str(path.parent))

    assert run.returncode == EXIT_OK, run.stderr
    files = _version_files(run.result["artifact"])
    assert "email" not in pd.read_parquet(io.BytesIO(files["data.parquet"])).columns
    assert b"email" not in files["profile.json"] and b"email" not in files["report.html"]


def test_failed_quality_gate_names_the_check_and_the_column(
    run_trainer: RunTrainer, store_uri: str, dirty_csv: tuple[Path, dict[str, int], pd.DataFrame]
) -> None:
    path, _, _ = dirty_csv
    spec = {
        **DIRTY_SPEC,
        "cleaning": {"dropDuplicates": True},
        "validation": {"columns": [{"name": "age", "min": 18, "max": 120}], "maxMissingFraction": 0.01},
    }
    run = _prepare(run_trainer, store_uri, "customers", spec, "--source-dir", str(path.parent))

    assert run.returncode == EXIT_BAD_INPUT
    assert run.message is not None and run.message["reason"] == "BadInput"
    assert "validation.columns[age].max" in run.message["error"] and "'age'" in run.message["error"]
    assert "validation.maxMissingFraction: column 'income'" in run.message["error"]
    assert not (Path(store_uri.removeprefix("file://")) / "datasets").exists()  # nothing written


def test_min_rows_gate_fails_after_cleaning(run_trainer: RunTrainer, store_uri: str) -> None:
    spec = {"source": {"builtin": {"name": "iris"}}, "validation": {"minRows": 1000}}
    run = _prepare(run_trainer, store_uri, "iris", spec)

    assert run.returncode == EXIT_BAD_INPUT
    assert run.message is not None and "validation.minRows: 149 rows" in run.message["error"]


def test_missing_target_column_is_bad_input(run_trainer: RunTrainer, store_uri: str) -> None:
    spec = {"source": {"builtin": {"name": "iris"}}, "target": "species"}
    run = _prepare(run_trainer, store_uri, "iris", spec)

    assert run.returncode == EXIT_BAD_INPUT
    assert run.message is not None and "spec.target: column 'species' is not in the data" in run.message["error"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "source file not found"), (b"PAR1\x00garbage", "is not valid PARQUET")],
    ids=["missing", "corrupt"],
)
def test_unreadable_pvc_source_is_bad_input(
    run_trainer: RunTrainer, store_uri: str, tmp_path: Path, content: bytes | None, expected: str
) -> None:
    claim = tmp_path / "pvcs" / "data"
    claim.mkdir(parents=True)
    if content is not None:
        (claim / "rows.parquet").write_bytes(content)
    spec = {"source": {"pvc": {"claimName": "data", "path": "rows.parquet"}}}
    run = _prepare(run_trainer, store_uri, "rows", spec, "--pvc-root", str(tmp_path / "pvcs"))

    assert run.returncode == EXIT_BAD_INPUT
    assert run.message is not None and expected in run.message["error"]


def test_pvc_parquet_source_is_read(run_trainer: RunTrainer, store_uri: str, tmp_path: Path) -> None:
    claim = tmp_path / "pvcs" / "data"
    claim.mkdir(parents=True)
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "b", "a", "b"]}).to_parquet(claim / "rows.parquet")
    spec = {"source": {"pvc": {"claimName": "data", "path": "rows.parquet"}}, "target": "y"}
    run = _prepare(run_trainer, store_uri, "rows", spec, "--pvc-root", str(tmp_path / "pvcs"))

    assert run.returncode == EXIT_OK, run.stderr
    assert (run.result["rows"], run.result["columns"]) == (4, 2)


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_url_source_reads_csv_over_http_and_404_is_bad_input(
    run_trainer: RunTrainer, store_uri: str, http_dir: tuple[str, Path]
) -> None:
    base, root = http_dir
    pd.DataFrame({"a": range(20), "b": [i % 3 for i in range(20)]}).to_csv(root / "rows.csv", index=False)
    spec = {"source": {"url": {"url": f"{base}/rows.csv"}}, "target": "b"}

    ok = _prepare(run_trainer, store_uri, "web", spec, env=LOOPBACK_ALLOWED)
    missing = run_trainer(
        "prepare", "--name", "web", "--store", store_uri, "--url", f"{base}/nope.csv", env=LOOPBACK_ALLOWED
    )

    assert ok.returncode == EXIT_OK, ok.stderr
    assert ok.result["rows"] == 20
    assert missing.returncode == EXIT_BAD_INPUT
    assert missing.message is not None and "404" in missing.message["error"]


def test_unreachable_url_is_transient(run_trainer: RunTrainer, store_uri: str) -> None:
    from modelops.testing.s3server import free_port

    run = run_trainer(
        "prepare",
        *("--name", "web", "--store", store_uri, "--url", f"http://127.0.0.1:{free_port()}/rows.csv"),
        env=LOOPBACK_ALLOWED,
    )

    assert run.returncode == EXIT_TRANSIENT
    assert run.message is not None and run.message["reason"] == "Transient"
    assert "cannot reach source URL" in run.message["error"]


def test_failure_message_goes_to_the_flag_path_over_the_env_path(
    run_trainer: RunTrainer, store_uri: str, tmp_path: Path
) -> None:
    flag_path = tmp_path / "from-flag"
    run = run_trainer(
        "prepare",
        "--name",
        "x",
        "--store",
        store_uri,
        "--builtin",
        "nope",
        "--termination-message-path",
        str(flag_path),
    )

    assert run.returncode == EXIT_BAD_INPUT
    assert run.message is None
    message = json.loads(flag_path.read_text())
    assert message["reason"] == "BadInput" and "spec.source.builtin.name" in message["error"]
