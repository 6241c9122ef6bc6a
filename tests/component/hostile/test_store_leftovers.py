"""#9.12: what a killed writer leaves in the store (`.tmp-*` directories) is removed by the next write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from modelops.artifacts.store import STALE_TMP_SECONDS, ArtifactStore
from modelops.contract.jobs import EXIT_OK

from .conftest import Trainer

# A writer that never finishes: it blocks on its last file, the way a Job's container is killed mid-write.
_STUCK_WRITER = """
import sys, threading
from pathlib import Path
from modelops.artifacts.store import ArtifactStore

original = Path.write_bytes
def write_bytes(self, data):
    if self.name == "last":
        print("writing", flush=True)
        threading.Event().wait()
    return original(self, data)
Path.write_bytes = write_bytes
ArtifactStore.from_uri(sys.argv[1]).write_version("datasets/rows/v1", {"data": b"x" * 1024, "last": b"y"})
"""


def _killed_writer(store: str, datasets: Path) -> Path:
    """Start a writer, SIGKILL it mid-version, and return the directory it leaves behind."""
    writer = subprocess.Popen([sys.executable, "-c", _STUCK_WRITER, store], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    [leftover] = list(datasets.glob(".tmp-*"))
    return leftover


def test_a_killed_writers_directory_is_removed_by_the_next_write_once_stale(tmp_path: Path) -> None:
    store = f"file://{tmp_path / 'store'}"
    datasets = tmp_path / "store" / "default" / "datasets" / "rows"
    leftover = _killed_writer(f"{store}/default", datasets)
    assert (leftover / "data").exists()
    past = time.time() - STALE_TMP_SECONDS - 60
    os.utime(leftover, (past, past))  # an hour later
    fresh = datasets / ".tmp-v9-0123abcd"  # a writer still at work
    fresh.mkdir()

    ArtifactStore.from_uri(f"{store}/default").write_version("datasets/rows/v2", {"data": b"z"})

    assert not leftover.exists()
    assert fresh.exists()
    assert sorted(p.name for p in datasets.iterdir()) == [".tmp-v9-0123abcd", "v2"]


def test_the_prepare_job_is_such_a_next_write_even_of_a_version_already_stored(
    trainer: Trainer, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    datasets = store / "default" / "datasets" / "iris"
    first = trainer("prepare", "--name", "iris", "--store", f"file://{store}", "--builtin", "iris")
    assert first.run.returncode == EXIT_OK, first.run.stderr
    stale = datasets / ".tmp-0123456789abcdef-deadbeef"
    stale.mkdir()
    (stale / "data.parquet").write_bytes(b"half")
    past = time.time() - STALE_TMP_SECONDS - 60
    os.utime(stale, (past, past))

    done = trainer("prepare", "--name", "iris", "--store", f"file://{store}", "--builtin", "iris")

    assert done.run.returncode == EXIT_OK, done.run.stderr
    assert [p.name for p in datasets.iterdir()] == [done.run.result["version"]]
