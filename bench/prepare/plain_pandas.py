"""The peer of `prepare` in bench/prepare: a plain pandas script doing the same work in memory.

Reads the whole CSV, drops duplicate rows and rows without a label, clips outliers (IQR, 1.5),
imputes the median, profiles every feature (count, missing, mean, std, min, max, the 5/25/50/75/95%
quantiles and a 10-bin histogram for numbers; value counts for text), hashes the cleaned rows
(`hash_pandas_object`, as `prepare` versions its data) and writes Parquet. No quality gates, no
report, no spill, no exactness beyond pandas' own: the floor of what `prepare` does.

Usage: python plain_pandas.py --csv big.csv --target label --out data.parquet
"""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np
import pandas as pd

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    frame = pd.read_csv(args.csv)
    frame = frame.drop_duplicates(ignore_index=True)
    frame = frame[frame[args.target].notna()].reset_index(drop=True)
    features = [c for c in frame.columns if c != args.target]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(frame[c])]
    text = [c for c in features if c not in numeric]
    for c in numeric:
        q1, q3 = frame[c].quantile([0.25, 0.75])
        low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        frame[c] = frame[c].clip(low, high)
        frame[c] = frame[c].fillna(frame[c].median())
    for c in text:
        mode = frame[c].mode()
        if len(mode):
            frame[c] = frame[c].fillna(mode.iloc[0])

    profile: dict[str, object] = {}
    for c in numeric:
        column = frame[c]
        present = column.dropna()
        counts, edges = np.histogram(present, bins=10)
        profile[c] = {
            "count": int(present.size),
            "missing": int(column.isna().sum()),
            "mean": float(present.mean()),
            "std": float(present.std()),
            "min": float(present.min()),
            "max": float(present.max()),
            "quantiles": [float(v) for v in present.quantile(list(QUANTILES))],
            "bins": [int(n) for n in counts],
            "edges": [float(e) for e in edges],
        }
    for c in text:
        column = frame[c]
        profile[c] = {"missing": int(column.isna().sum()), "counts": column.value_counts().head(100).to_dict()}

    version = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    frame.to_parquet(args.out, index=False)
    print(json.dumps({"rows": len(frame), "version": version[:12], "features": len(profile)}))


if __name__ == "__main__":
    main()
