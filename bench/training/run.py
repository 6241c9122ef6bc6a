"""Benchmark of the trainer against plain scikit-learn, and of `prepare`'s peak memory.

1. Wall time of `python -m modelops.trainer train` over a plain scikit-learn
   script (plain_sklearn.py) doing the same fit and evaluation on the same data,
   both as fresh processes: on breast_cancer with random_forest, and on a
   200k-row synthetic classification set. Goal: ratio <= 1.3.
2. Peak RSS of `python -m modelops.trainer prepare` on a 1M-row CSV against the
   data's in-memory size (pandas, deep). Goal: <= 3x.

Usage: .venv/bin/python bench/training/run.py [--rows 200000] [--csv-rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import measure

HERE = Path(__file__).resolve().parent
PLAIN = HERE / "plain_sklearn.py"
# One thread per BLAS/OpenMP pool in both runs: the comparison is about the
# trainer's own overhead, not about thread scheduling on a shared machine.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args[:4]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def trainer(*args: str) -> tuple[float, dict[str, Any]]:
    elapsed, out = run([sys.executable, "-m", "modelops.trainer", *args, "--log-level", "WARNING"])
    return elapsed, json.loads(out.strip().splitlines()[-1])


def compare(store: str, name: str, hyperparameters: dict[str, object], repeat: int) -> dict[str, object]:
    """Median wall times of train vs the plain script (fresh model names so nothing is reused)."""
    ours, plain = [], []
    spec = json.dumps({"model": {"algorithm": "random_forest", "hyperparameters": hyperparameters}})
    data = None
    for i in range(repeat):
        elapsed, result = trainer(
            "train",
            "--name",
            f"{name}-rf-{i}-{time.time_ns()}",
            "--store",
            store,
            "--dataset",
            name,
            "--spec-json",
            spec,
        )
        ours.append(elapsed)
        if data is None:
            model_dir = Path(result["uri"].removeprefix("file://"))
            dataset = json.loads((model_dir / "metadata.json").read_text())["dataset"]
            version = dataset.split("@", 1)[1]
            # <store>/<namespace>/models/<name>/<version>: the dataset is under the same namespace
            data = model_dir.parents[2] / "datasets" / name / version / "data.parquet"
        elapsed, _ = run(
            [sys.executable, str(PLAIN), "--data", str(data), "--hyperparameters", json.dumps(hyperparameters)]
        )
        plain.append(elapsed)
    t_ours, t_plain = statistics.median(ours), statistics.median(plain)
    return {
        "train_s": round(t_ours, 2),
        "plain_s": round(t_plain, 2),
        "ratio": round(t_ours / t_plain, 2),
        "formats": result["formats"],
        "test_accuracy": result["metrics"].get("accuracy"),
    }


def memory(workdir: Path, rows: int) -> dict[str, object]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(8)})
    frame["count"] = rng.integers(0, 100, rows)
    frame["city"] = rng.choice(["paris", "lyon", "nice", "lille", "brest"], rows)
    frame["segment"] = rng.choice(["a", "b", "c"], rows)
    frame["label"] = rng.choice(["yes", "no"], rows)
    frame.loc[rng.choice(rows, rows // 100, replace=False), "x0"] = np.nan
    csv = workdir / "big.csv"
    frame.to_csv(csv, index=False)
    del frame
    in_memory = pd.read_csv(csv).memory_usage(deep=True).sum() / 2**20
    spec = {
        "target": "label",
        "cleaning": {
            "dropDuplicates": True,
            "missingValues": {"strategy": "median"},
            "outliers": {"method": "iqr", "action": "clip"},
        },
    }
    args = [
        "modelops.trainer",
        "prepare",
        "--name",
        "big",
        "--store",
        f"file://{workdir / 'store-mem'}",
        "--source-file",
        str(csv),
        "--spec-json",
        json.dumps(spec),
    ]
    peak = measure(workdir, args, ENV).peak_rss_mib
    imports = "import modelops.trainer.prepare, modelops.trainer.cli, matplotlib.pyplot, pyarrow.parquet, sklearn"
    baseline = measure(workdir, ["-c", imports], ENV).peak_rss_mib
    return {
        "rows": rows,
        "csv_mb": round(csv.stat().st_size / 2**20, 1),
        "in_memory_mb": round(in_memory, 1),
        "peak_rss_mb": round(peak, 1),
        "imports_rss_mb": round(baseline, 1),
        "ratio": round(peak / in_memory, 2),
        "ratio_above_imports": round((peak - baseline) / in_memory, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the synthetic training set")
    parser.add_argument("--csv-rows", type=int, default=1_000_000, help="rows of the prepare memory CSV")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the small comparison (median)")
    args = parser.parse_args()
    from sklearn.datasets import make_classification

    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        workdir = Path(tmp)
        report: dict[str, object] = {"memory": memory(workdir, args.csv_rows)}
        print(json.dumps(report), flush=True)
        store = f"file://{workdir / 'store'}"
        trainer("prepare", "--name", "cancer", "--store", store, "--builtin", "breast_cancer")
        report["breast_cancer"] = compare(store, "cancer", {}, args.repeat)
        print(json.dumps(report), flush=True)

        X, y = make_classification(n_samples=args.rows, n_features=20, n_informative=10, random_state=0)
        synthetic = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
        synthetic["target"] = np.where(y == 1, "pos", "neg")
        synthetic.to_parquet(workdir / "synthetic.parquet")
        prep_s, _ = trainer(
            "prepare",
            "--name",
            "synthetic",
            "--store",
            store,
            "--source-file",
            str(workdir / "synthetic.parquet"),
            "--target",
            "target",
        )
        report["synthetic"] = {
            "rows": args.rows,
            "prepare_s": round(prep_s, 2),
            **compare(store, "synthetic", {"n_estimators": 50, "max_depth": 12}, 1),
        }
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
