"""Which model a ModelDeployment serves while its retrainings come and go."""

from __future__ import annotations

from typing import Any

from modelops.operator.handlers.context import Context
from modelops.operator.handlers.modeldeployment import resolve
from modelops.operator.kube import Kube
from modelops.operator.settings import OperatorSettings

from .operator_objects import STORE, model_deployment, training_run

TEMPLATE = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "decision_tree"}}
SPEC: dict[str, Any] = {
    "model": {"trainingRunRef": {"name": "iris-tree"}},
    "retraining": {"policy": "OnDrift", "template": TEMPLATE},
}
FIRST = {"uri": f"{STORE}/ns/models/iris-tree/1111111111111111", "version": "1111111111111111", "run": "iris-tree"}
RETRAINED = {"uri": f"{STORE}/ns/models/iris-retrain-1/2222222222222222", "version": "2222222222222222",
             "run": "iris-retrain-1"}  # fmt: skip


def context(settings: OperatorSettings, *runs: dict[str, Any]) -> Context:
    ctx = Context(settings=settings.model_copy(update={"store": STORE}), kube=Kube(api_client=None))
    for run in runs:
        ctx.cache.observe("trainingruns", run)
    return ctx


def run_manifest(name: str, phase: str, model: dict[str, str] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, **({"model": model} if model else {})}
    return training_run(name, TEMPLATE, **status).model_dump(mode="json", by_alias=True, exclude_none=True)


def test_the_model_an_earlier_retraining_promoted_serves_while_the_next_one_trains(
    settings: OperatorSettings,
) -> None:
    md = model_deployment("iris-loop", SPEC, model=RETRAINED, retraining={"run": "iris-retrain-2", "reason": "drift"})
    ctx = context(
        settings,
        run_manifest("iris-tree", "Succeeded", {"uri": FIRST["uri"], "version": FIRST["version"]}),
        run_manifest("iris-retrain-2", "Running"),
    )

    model = resolve(ctx, md)

    assert getattr(model, "version", None) == RETRAINED["version"]  # not the spec's iris-tree again
