"""The modelops operator: kopf handlers that reconcile Datasets, TrainingRuns and ModelDeployments.

Layout: `settings` (env configuration), `builders/` (pure child-manifest builders),
`decisions` (pure state machines), `kube` (the API calls), `errors` (the one mapping of
failures to kopf outcomes), `handlers/` (kopf registration), `__main__` (embedded kopf run).
"""
