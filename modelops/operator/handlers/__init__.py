"""kopf registration and the reconcile loop: watches fill a cache and a queue; reconciles decide and call.

Each kind's `reconcile` decides (through `decisions`) and calls (through `Context`); `controller`
wires the watches, the queue and the resync.
"""

from modelops.operator.handlers.controller import Controller, register

__all__ = ["Controller", "register"]
