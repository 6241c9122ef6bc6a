"""Pure decisions: from a typed object, its children's state and the clock to a new status and actions.

Handlers fetch, call one of these, then act on the returned `Plan`. Nothing here talks to the
API server, so every state transition is unit-tested. One module per kind, and `retraining`
for the closed loop of a ModelDeployment.
"""
