"""The PodDisruptionBudget: keep one pod serving through voluntary disruptions."""

from __future__ import annotations

from modelops.api.objects import ModelDeployment
from modelops.operator import naming
from modelops.operator.builders.common import Manifest, metadata
from modelops.operator.builders.deployment import COMPONENT, selector_labels


def serving_pdb(md: ModelDeployment) -> Manifest:
    # With one replica, minAvailable 1 would block every node drain; allow one pod down instead.
    budget = {"minAvailable": 1} if md.spec.replicas.min > 1 else {"maxUnavailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(md, naming.serving_name(md.name), naming.labels(md.kind, md.name, COMPONENT)),
        "spec": {"selector": {"matchLabels": selector_labels(md)}, **budget},
    }
