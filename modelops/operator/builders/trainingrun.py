"""The TrainingRun a ModelDeployment starts when it retrains: its template, owned and labelled."""

from __future__ import annotations

from modelops.operator import naming
from modelops.operator.builders.common import Manifest, metadata

RETRAIN_OF = "modelops.io/retrain-of"


def retraining_run(owner: Manifest, *, name: str, reason: str) -> Manifest:
    md = owner["metadata"]["name"]
    labels = {**naming.labels(owner["kind"], md, "retraining"), RETRAIN_OF: naming.bounded(md)}
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": metadata(owner, name, labels, {"modelops.io/retrain-reason": reason[:1000]}),
        "spec": dict(owner["spec"]["retraining"]["template"]),
    }


def retraining_run_name(deployment: str, number: int) -> str:
    return naming.with_suffix(deployment, f"-retrain-{number}")
