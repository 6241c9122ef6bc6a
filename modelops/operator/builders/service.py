"""The Service in front of the serving pods: port 80 (`http`) and 8081 (`grpc`) to the container's named ports."""

from __future__ import annotations

from modelops.api.objects import ModelDeployment
from modelops.operator import naming
from modelops.operator.builders.common import Manifest, metadata
from modelops.operator.builders.deployment import COMPONENT, selector_labels

PORT = 80
# gRPC clients (tritonclient, KServe) dial <service>:8081 by habit; the container's port named grpc.
GRPC_PORT = 8081


def serving_service(md: ModelDeployment) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(md, naming.serving_name(md.name), naming.labels(md.kind, md.name, COMPONENT)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(md),
            "ports": [
                {"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"},
                {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "protocol": "TCP"},
            ],
        },
    }


def endpoint(md: ModelDeployment) -> str:
    """The in-cluster URL of the model (Open Inference Protocol V2 path); served under the MD's name."""
    return f"http://{naming.serving_name(md.name)}.{md.namespace}.svc.cluster.local/v2/models/{md.name}"
