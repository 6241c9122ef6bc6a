"""The one contract between the parts: the typed shapes the operator, the trainer and the server exchange.

Nothing here imports the operator, the trainer or the server; each of them imports this.
Whatever one part hands another (a Job's result, an exit code, a serving pod's settings,
a metric name or the PromQL built on it) is defined here exactly once.
"""
