"""The Secret of a ModelDeployment's serving pods: the key that signs their prediction ids.

Every replica signs the ids it hands out with the same key, so any replica accepts feedback for
another's predictions and nobody else can forge one. The operator creates it once and never reads
it back (it has no right to read Secrets); the pods get it by `secretKeyRef`. The key is drawn by
the caller: a builder draws nothing at random.
"""

from __future__ import annotations

from modelops.api.objects import ModelDeployment
from modelops.operator import naming
from modelops.operator.builders.common import Manifest, metadata
from modelops.operator.builders.deployment import COMPONENT


def serving_secret(md: ModelDeployment, feedback_key: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata(md, naming.serving_secret_name(md.name), naming.labels(md.kind, md.name, COMPONENT)),
        "stringData": {naming.FEEDBACK_KEY: feedback_key},
    }
