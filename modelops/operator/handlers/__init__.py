"""kopf registration: each kind's handlers decide (through `decisions`) and call (through `kube`)."""

from __future__ import annotations

import kopf

from modelops.operator.handlers import dataset, modeldeployment, trainingrun
from modelops.operator.handlers.context import Context


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    """Register the handlers of the three kinds with `registry`."""
    # A registry of our own does not get kopf's default login handlers: log in like the API client.
    kopf.on.login(registry=registry, id="login")(kopf.login_via_client)
    dataset.register(registry, ctx)
    trainingrun.register(registry, ctx)
    modeldeployment.register(registry, ctx)
