"""The Service in front of the serving pods: port 80 (`http`) to the container's 8080."""

from __future__ import annotations

from modelops.operator import naming
from modelops.operator.builders.common import Manifest, metadata
from modelops.operator.builders.deployment import COMPONENT, PORT, selector_labels


def serving_service(owner: Manifest) -> Manifest:
    name = owner["metadata"]["name"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(owner, naming.serving_name(name), naming.labels(owner["kind"], name, COMPONENT)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(name),
            "ports": [{"name": "http", "port": 80, "targetPort": PORT, "protocol": "TCP"}],
        },
    }


def endpoint(owner: Manifest) -> str:
    """The in-cluster URL of the model (Open Inference Protocol V2 path)."""
    meta = owner["metadata"]
    return f"http://{naming.serving_name(meta['name'])}.{meta['namespace']}.svc.cluster.local/v2/models/{meta['name']}"
