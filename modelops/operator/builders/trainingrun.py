"""The TrainingRun a ModelDeployment starts when it retrains: its template, owned and labelled."""

from __future__ import annotations

from modelops.api.objects import ModelDeployment
from modelops.operator import naming
from modelops.operator.builders.common import Manifest, metadata

RETRAIN_OF = "modelops.io/retrain-of"
REASON_ANNOTATION = "modelops.io/retrain-reason"


def retraining_run(md: ModelDeployment, *, name: str, reason: str) -> Manifest:
    retraining = md.spec.retraining
    if retraining is None or retraining.template is None:
        raise ValueError(f"ModelDeployment {md.name} has no retraining template")
    labels = {**naming.labels(md.kind, md.name, "retraining"), RETRAIN_OF: naming.bounded(md.name)}
    return {
        "apiVersion": md.api_version,
        "kind": "TrainingRun",
        "metadata": metadata(md, name, labels, {REASON_ANNOTATION: reason[:1000]}),
        "spec": retraining.template.wire(),
    }


def retraining_run_name(md: ModelDeployment, number: int) -> str:
    return naming.with_suffix(md.name, f"-retrain-{number}")
