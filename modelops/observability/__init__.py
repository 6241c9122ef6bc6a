"""Monitoring files the Helm chart ships, generated from the contract's metric names and PromQL.

`python -m modelops.observability` writes them into `charts/modelops/files/`; a unit test fails
when they are stale, as for the CRDs. The alerts are a chart template (their thresholds are values).
"""
