"""#9.4: inputs sized to exhaust memory are refused, or handled, within a bounded peak RSS of the child.

The trainer's own footprint (Python, pandas, scikit-learn) is about 150-250 MiB; each bound below
is far under what the probe cost before the fix (figures in the test's comment).
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.artifacts.model_format import MAX_UNCOMPRESSED_BYTES, METADATA_FILE, MODEL_FILE
from modelops.artifacts.store import open_artifact
from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK

from .conftest import Trainer, error_of, prepare


def test_a_grid_of_3e8_points_with_two_trials_enumerates_two(trainer: Trainer, store_uri: str) -> None:
    assert trainer("prepare", "--name", "iris", "--store", store_uri, "--builtin", "iris").run.returncode == EXIT_OK
    values = list(range(2, 52))
    spec = {
        "model": {"algorithm": "random_forest", "hyperparameters": {"n_estimators": 2}},
        "tuning": {
            "strategy": "grid",
            "maxTrials": 2,
            "cvFolds": 2,
            "parameters": {
                name: values
                for name in ("max_depth", "min_samples_split", "min_samples_leaf", "max_leaf_nodes", "random_state")
            },
        },
    }

    probe = trainer(
        "train", "--name", "grid", "--store", store_uri, "--dataset", "iris", "--spec-json", json.dumps(spec)
    )

    assert probe.run.returncode == EXIT_OK, probe.run.stderr
    assert probe.run.result["trials"] == 2
    # Before: the 50^5 = 3.1e8 points were listed to take the first two (killed past 8 GiB).
    assert probe.peak_rss_mib < 600 and probe.seconds < 120


def _wide_csv(path: Path, columns: int, rows: int = 3) -> Path:
    header = ",".join(f"c{i}" for i in range(columns))
    line = ",".join("1" for _ in range(columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *[line] * rows]) + "\n")
    return path


def _config_map(path: Path) -> dict[str, object]:
    return {"source": {"configMap": {"name": "cm", "key": path.name}}}


def test_a_csv_of_100k_columns_is_refused_from_its_header(trainer: Trainer, store_uri: str, tmp_path: Path) -> None:
    path = _wide_csv(tmp_path / "cm" / "wide.csv", 100_000)

    probe = prepare(trainer, store_uri, _config_map(path), "--source-dir", str(path.parent))

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert error_of(probe) == ("source configMap:cm/wide.csv has more than 10000 columns (MODELOPS_SOURCE_MAX_COLUMNS)")
    # Before: parsed whole, 2 GB and 89 s (issue #9).
    assert probe.peak_rss_mib < 300 and probe.seconds < 30


def test_a_quoted_header_is_counted_by_fields_not_commas(trainer: Trainer, store_uri: str, tmp_path: Path) -> None:
    path = tmp_path / "cm" / "quoted.csv"
    path.parent.mkdir()
    path.write_text('"a,b","c ""x,y""",label\n' + "1,2,0\n3,4,1\n" * 20)

    ok = prepare(
        trainer,
        store_uri,
        {**_config_map(path), "target": "label", "cleaning": {"dropDuplicates": False}},
        "--source-dir",
        str(path.parent),
        env={"MODELOPS_SOURCE_MAX_COLUMNS": "3"},
    )

    assert ok.run.returncode == EXIT_OK, ok.run.stderr
    assert ok.run.result["columns"] == 3


def _source_file(directory: Path, name: str) -> Path:
    """A small file that one limit, set low, refuses: many rows, many Parquet columns, many bytes."""
    if name == "wide.parquet":
        directory.mkdir(parents=True)
        pd.DataFrame(np.ones((2, 50)), columns=[f"c{i}" for i in range(50)]).to_parquet(directory / name)
        return directory / name
    return _wide_csv(directory / name, 4, rows=5000 if name == "long.csv" else 1000)


@pytest.mark.parametrize(
    ("name", "setting", "value", "expected"),
    [
        ("long.csv", "MAX_ROWS", "1000", "has more than 1000 rows (MODELOPS_SOURCE_MAX_ROWS)"),
        ("wide.parquet", "MAX_COLUMNS", "20", "has 50 columns, more than 20 (MODELOPS_SOURCE_MAX_COLUMNS)"),
        ("big.csv", "MAX_BYTES", "100", "more than 100 (MODELOPS_SOURCE_MAX_BYTES)"),
    ],
)
def test_each_limit_the_operator_sets_refuses_a_source_past_it(
    trainer: Trainer, store_uri: str, tmp_path: Path, name: str, setting: str, value: str, expected: str
) -> None:
    path = _source_file(tmp_path / "cm", name)

    probe = prepare(
        trainer,
        store_uri,
        _config_map(path),
        "--source-dir",
        str(path.parent),
        env={f"MODELOPS_SOURCE_{setting}": value},
    )

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert f"source configMap:cm/{name} " in error_of(probe) and expected in error_of(probe)


def zip_bomb(declared: int) -> bytes:
    """A skops-shaped zip whose schema.json inflates to `declared` bytes of spaces, built in milliseconds.

    One deflate block over 1 MiB, fully flushed so it stands alone, repeated: what zlib would make
    of the whole, without compressing gigabytes. CRC is left 0: a reader is refused before it checks.
    """
    mib = 1 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(b" " * mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = block * (declared // mib) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    name = b"schema.json"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, 0, len(data), declared, len(name), 0)
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, 0, len(data), declared, len(name), 0, 0, 0, 0, 0, 0
    )
    directory = central + name
    offset = len(local) + len(name) + len(data)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), offset, 0)
    return local + name + data + directory + end


@pytest.fixture(scope="module")
def bombed_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real model version whose model.skops is replaced by a bomb, its sha256 rewritten to match."""
    from tests.component.trainer.trainer_cli import run_cli

    root = tmp_path_factory.mktemp("bomb")
    store = f"file://{root / 'store'}"
    for args in (
        ["prepare", "--name", "iris", "--store", store, "--builtin", "iris"],
        ["train", "--name", "m", "--store", store, "--dataset", "iris", "--algorithm", "decision_tree"],
    ):
        done = run_cli(args, termination=root / "t")
        assert done.returncode == EXIT_OK, done.stderr
    uri: str = json.loads((root / "t").read_text())["uri"]
    artifact, reldir = open_artifact(uri)
    version = Path(artifact._path(reldir))
    bomb = zip_bomb(MAX_UNCOMPRESSED_BYTES + 256 * 1024 * 1024)
    (version / MODEL_FILE).write_bytes(bomb)
    metadata = json.loads((version / METADATA_FILE).read_text())
    import hashlib

    metadata["files"][MODEL_FILE] = hashlib.sha256(bomb).hexdigest()
    (version / METADATA_FILE).write_text(json.dumps(metadata))
    return uri


def test_a_skops_bomb_is_refused_by_its_directory_before_inflating(bombed_model: str, tmp_path: Path) -> None:
    from tests.component.trainer.trainer_cli import run_python_measured

    probe = run_python_measured(
        "import sys\n"
        "from modelops.artifacts.model_format import load_model, InvalidModelError\n"
        "try:\n"
        f"    load_model({bombed_model!r})\n"
        "except InvalidModelError as e:\n"
        "    print(e)\n"
        "    sys.exit(3)\n",
        workdir=tmp_path,
    )

    assert probe.returncode == 3, probe.stderr
    assert "refusing to decompress it" in probe.stdout and f"more than the {MAX_UNCOMPRESSED_BYTES}" in probe.stdout
    # Before: skops inflated schema.json whole, 2.25 GiB of it.
    assert probe.peak_rss_mib < 400
