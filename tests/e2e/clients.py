"""Clients that run where a user's would: in a pod of the project's image, on the real node."""

from __future__ import annotations

import json
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

import yaml

from modelops.testing.waiting import status_of, wait_for

Kubectl = Callable[..., CompletedProcess[str]]

# POSTs argv[2] (JSON) to argv[1] and prints the answer: the client side of one request.
POST_JSON = """
import json, sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=30) as answer:
    print(answer.read().decode())
"""


def pod(name: str, image: str, command: list[str], **spec: Any) -> dict[str, Any]:
    """A one-shot pod of ``image`` as the project's own pods run: non-root, read-only root filesystem."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "e2e-client"}},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001},
            "containers": [
                {
                    "name": "client",
                    "image": image,
                    "command": command,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                }
            ],
            **spec,
        },
    }


def run_pod(kubectl: Kubectl, namespace: str, manifest: dict[str, Any], *, timeout: float = 300.0) -> str:
    """Run a one-shot pod to completion and return its output; fails with the output if it fails."""
    name = manifest["metadata"]["name"]
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))
    wait_for(
        f"pod {namespace}/{name} to finish",
        lambda: status_of(kubectl, namespace, "pod", name).get("phase") in ("Succeeded", "Failed"),
        timeout=timeout,
        interval=1.0,
    )
    logs = str(kubectl("logs", "-n", namespace, name).stdout)
    phase = status_of(kubectl, namespace, "pod", name)["phase"]
    assert phase == "Succeeded", f"pod {name} {phase}:\n{logs}"
    return logs


def post_json(kubectl: Kubectl, namespace: str, image: str, name: str, url: str, body: Any) -> Any:
    """POST ``body`` to ``url`` from a pod in ``namespace``; the decoded answer."""
    manifest = pod(name, image, ["python", "-c", POST_JSON, url, json.dumps(body)])
    return json.loads(run_pod(kubectl, namespace, manifest))
