"""Benchmark of `prepare` on data larger than its memory setting, against a plain pandas script.

Generates a seeded CSV of ROWS x 20 columns (14 floats, heavy-tailed, 1% missing in four of
them; 2 integers; 3 text columns, one with 1% missing; a yes/no label; 0.5% duplicated rows),
then runs, each as a fresh process:

1. `python -m modelops.trainer prepare` with MODELOPS_PREPARE_MEMORY_BYTES (default 1 GiB):
   drop duplicates, median imputation (most frequent for text), IQR clipping, gates, profile,
   report, version hash, Parquet;
2. `plain_pandas.py`: the same cleaning, profile, hash and Parquet with pandas in memory.

Reports the wall time and the peak RSS (the process's own VmHWM) of both.
Goals: our peak <= 1 GiB, our wall time <= 1.0x pandas'.

Usage: .venv/bin/python bench/prepare/run.py [--rows 10000000] [--memory-bytes 1073741824]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import measure

HERE = Path(__file__).resolve().parent
PLAIN = HERE / "plain_pandas.py"
CHUNK = 500_000
# One thread per BLAS/OpenMP pool in both runs (pyarrow's CSV reader keeps its own pool in both).
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def generate(path: Path, rows: int) -> None:
    """ROWS x 20 columns, written CHUNK rows at a time (the generator's memory stays small)."""
    rng = np.random.default_rng(0)
    cities = np.array(["paris", "lyon", "nice", "lille", "brest", "nantes", "rennes", "metz"])
    first = True
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        frame = pd.DataFrame({f"x{i}": np.round(rng.standard_t(3, size=n) * (i + 1), 8) for i in range(14)})
        for i in range(4):
            frame.loc[rng.random(n) < 0.01, f"x{i}"] = np.nan
        frame["n0"] = rng.integers(0, 100, n)
        frame["n1"] = rng.poisson(3, n)
        frame["city"] = rng.choice(cities, n)
        frame.loc[rng.random(n) < 0.01, "city"] = None
        frame["segment"] = rng.choice(["a", "b", "c"], n)
        frame["channel"] = rng.choice(["web", "store", "phone", "partner"], n)
        frame["label"] = np.where(frame["x0"].fillna(0) + rng.normal(size=n) > 0, "yes", "no")
        copies = rng.choice(n, n // 200, replace=False)
        frame.iloc[copies[1:]] = frame.iloc[copies[:-1]].to_numpy()
        frame.to_csv(path, mode="w" if first else "a", header=first, index=False)
        first = False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--memory-bytes", type=int, default=1024**3, help="MODELOPS_PREPARE_MEMORY_BYTES")
    parser.add_argument("--workdir", help="default: a temporary directory, removed afterwards")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-prepare-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        csv = workdir / "big.csv"
        start = time.perf_counter()
        generate(csv, args.rows)
        report: dict[str, object] = {
            "rows": args.rows,
            "columns": 20,
            "csv_mib": round(csv.stat().st_size / 2**20, 1),
            "generate_s": round(time.perf_counter() - start, 1),
            "memory_bytes": args.memory_bytes,
        }
        print(json.dumps(report), flush=True)
        spec = {
            "target": "label",
            "cleaning": {
                "dropDuplicates": True,
                "missingValues": {"strategy": "median"},
                "outliers": {"method": "iqr", "action": "clip"},
            },
        }
        plain = [str(PLAIN), "--csv", str(csv), "--target", "label", "--out", str(workdir / "plain.parquet")]
        report["pandas"] = asdict(measure(workdir, plain, ENV))
        print(json.dumps(report), flush=True)
        ours = [
            "modelops.trainer",
            "prepare",
            *("--name", "big", "--store", f"file://{workdir / 'store'}", "--source-file", str(csv)),
            *("--spec-json", json.dumps(spec), "--log-level", "WARNING"),
        ]
        env = {
            **ENV,
            "MODELOPS_PREPARE_MEMORY_BYTES": str(args.memory_bytes),
            # The default source limit (1 GiB) refuses the file: raised as `sources.maxBytes` would be.
            "MODELOPS_SOURCE_MAX_BYTES": str(2 * csv.stat().st_size),
        }
        report["modelops"] = asdict(measure(workdir, ours, env))
        ours_s, plain_s = report["modelops"]["wall_s"], report["pandas"]["wall_s"]  # type: ignore[index]
        report["wall_ratio"] = round(ours_s / plain_s, 2)
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
