"""The baseline: a plain scikit-learn script doing the fit and evaluation `train` does.

Same data file (the dataset version's data.parquet), same seeded stratified
train/validation/test split, same pipeline (median imputation + the estimator),
same metrics on every split. No artifact store, no ONNX, no metadata.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--target", default="target")
    parser.add_argument("--hyperparameters", default="{}")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    frame = pd.read_parquet(args.data)
    features = [c for c in frame.columns if c != args.target]
    X, y = frame[features], frame[args.target]
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.15, random_state=args.seed, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.15 / 0.85, random_state=args.seed, stratify=y_rest
    )
    model = RandomForestClassifier(random_state=args.seed, **json.loads(args.hyperparameters))
    pipeline = Pipeline(
        [
            ("preprocess", ColumnTransformer([("numeric", SimpleImputer(strategy="median"), features)])),
            ("model", model),
        ]
    )
    pipeline.fit(X_train, y_train)
    report = {}
    for name, (Xs, ys) in {"train": (X_train, y_train), "validation": (X_val, y_val), "test": (X_test, y_test)}.items():
        predicted = pipeline.predict(Xs)
        proba = pipeline.predict_proba(Xs)
        classes = list(pipeline.classes_)
        scores = {"accuracy": metrics.accuracy_score(ys, predicted)}
        for average in ("macro", "weighted"):
            p, r, f, _ = metrics.precision_recall_fscore_support(ys, predicted, average=average, zero_division=0)
            scores |= {f"precision_{average}": p, f"recall_{average}": r, f"f1_{average}": f}
        if len(classes) == 2:
            scores["roc_auc"] = metrics.roc_auc_score(np.asarray(ys) == classes[1], proba[:, 1])
        else:
            scores["roc_auc"] = metrics.roc_auc_score(ys, proba, multi_class="ovr", labels=classes)
        scores["confusion_matrix"] = metrics.confusion_matrix(ys, predicted, labels=classes).tolist()
        report[name] = scores
    print(json.dumps({"test_accuracy": report["test"]["accuracy"]}))


if __name__ == "__main__":
    main()
