"""What KWOK does with the fake nodes of a test control plane, as its ``Stage`` objects.

Nodes become and stay Ready; scheduled pods become Running and Ready; pods owned by a Job
then Succeed; deleted pods are removed. The status each stage writes is a Go template shipped
as package data (``stages/*.tmpl``), so it is read and diffed as the YAML it is. Pods matching
a *manual* selector skip the Running and Succeeded stages: after the scheduler binds them
nothing touches them, so a test can "be the kubelet" for them (see
:class:`modelops.testing.kubelet.ProcessKubelet`). Deletion still applies to them, so
namespaces always finish terminating.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["NODE_ANNOTATION", "kwok_stages", "parse_selector", "selector_to_jq"]

NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
"""The annotation that hands a node to KWOK (``--manage-nodes-with-annotation-selector``)."""


def _template(name: str) -> str:
    return resources.files(__package__).joinpath("stages", f"{name}.tmpl").read_text()


def parse_selector(selector: str) -> list[tuple[str, str, str]]:
    """Parse an equality-based label selector into (key, op, value), op in =, !=, exists, !exists."""
    terms: list[tuple[str, str, str]] = []
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append((key.strip(), "!=", value.strip()))
        elif "==" in term:
            key, value = term.split("==", 1)
            terms.append((key.strip(), "=", value.strip()))
        elif "=" in term:
            key, value = term.split("=", 1)
            terms.append((key.strip(), "=", value.strip()))
        elif term.startswith("!"):
            terms.append((term[1:].strip(), "!exists", ""))
        elif " " in term or "(" in term:
            raise ValueError(f"only equality-based label selectors are supported, not {term!r}")
        else:
            terms.append((term, "exists", ""))
    if not terms:
        raise ValueError(f"empty label selector {selector!r}")
    return terms


def selector_to_jq(selector: str) -> str:
    """A jq expression (kwok's selector language) that is ``true`` for objects matching the selector."""
    parts = []
    for key, op, value in parse_selector(selector):
        label = f".metadata.labels[{json.dumps(key)}]"
        if op == "=":
            parts.append(f"({label} == {json.dumps(value)})")
        elif op == "!=":
            parts.append(f"({label} != {json.dumps(value)})")
        elif op == "exists":
            parts.append(f"({label} != null)")
        else:
            parts.append(f"({label} == null)")
    return " and ".join(parts)


def _stage(
    name: str, kind: str, expressions: list[dict[str, Any]], next_: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": kind},
            "selector": {"matchExpressions": expressions},
            "next": next_,
            **spec,
        },
    }


def kwok_stages(manual_pod_selector: str | None = None) -> list[dict[str, Any]]:
    """The Stage objects kwok runs: nodes Ready; pods Running+Ready, Job pods Succeeded, deletion.

    Pods matching ``manual_pod_selector`` get no Running/Succeeded stage.
    """
    alive = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
    automatic = []
    if manual_pod_selector:
        automatic = [{"key": selector_to_jq(manual_pod_selector), "operator": "In", "values": ["false"]}]
    ready = '.status.conditions.[] | select( .type == "Ready" ) | .status'
    node_conditions = _template("node-conditions")
    return [
        _stage(
            "node-initialize",
            "Node",
            [{"key": ready, "operator": "NotIn", "values": ["True"]}],
            {"statusTemplate": node_conditions + _template("node-capacity")},
        ),
        _stage(
            "node-heartbeat-with-lease",
            "Node",
            [
                {"key": ".status.phase", "operator": "In", "values": ["Running"]},
                {"key": ready, "operator": "In", "values": ["True"]},
            ],
            {"statusTemplate": node_conditions},
            delay={"durationMilliseconds": 60000, "jitterDurationMilliseconds": 65000},
        ),
        _stage(
            "pod-ready",
            "Pod",
            [
                alive,
                {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
                {"key": ready, "operator": "NotIn", "values": ["True"]},
                *automatic,
            ],
            {"statusTemplate": _template("pod-ready")},
        ),
        _stage(
            "pod-complete",
            "Pod",
            [
                alive,
                {"key": ".status.phase", "operator": "In", "values": ["Running"]},
                {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
                *automatic,
            ],
            {"statusTemplate": _template("pod-complete")},
        ),
        _stage(
            "pod-delete",
            "Pod",
            [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}],
            {"finalizers": {"empty": True}, "delete": True},
        ),
    ]
