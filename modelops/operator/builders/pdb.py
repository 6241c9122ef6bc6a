"""The PodDisruptionBudget: keep one pod serving through voluntary disruptions."""

from __future__ import annotations

from modelops.operator import naming
from modelops.operator.builders.common import Manifest, metadata
from modelops.operator.builders.deployment import COMPONENT, selector_labels


def serving_pdb(owner: Manifest) -> Manifest:
    name = owner["metadata"]["name"]
    min_replicas = int((owner["spec"].get("replicas") or {}).get("min", 1))
    # With one replica, minAvailable 1 would block every node drain; allow one pod down instead.
    budget = {"minAvailable": 1} if min_replicas > 1 else {"maxUnavailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(owner, naming.serving_name(name), naming.labels(owner["kind"], name, COMPONENT)),
        "spec": {"selector": {"matchLabels": selector_labels(name)}, **budget},
    }
