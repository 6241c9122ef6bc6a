"""Promotion gates: `validation.minMetrics` / `maxMetrics` on the test split.

The metric names are checked before training (a typo must not cost a run);
the thresholds are applied after, and a failed gate rejects the model (the run
still succeeds: the result says why it was rejected).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelops.api.trainingrun import PromotionGates
from modelops.artifacts.metadata import Task
from modelops.trainer.errors import SpecError
from modelops.trainer.metrics import METRICS


def check_gate_names(validation: PromotionGates | None, task: Task) -> None:
    """The API model checks that the names are metrics; whether each fits the task and its side is checked here."""
    if validation is None:
        return
    known = METRICS[task]
    for field, gates, goal in (
        ("minMetrics", validation.min_metrics, "maximize"),
        ("maxMetrics", validation.max_metrics, "minimize"),
    ):
        for metric in gates:
            if metric not in known:
                raise SpecError(f"spec.validation.{field}.{metric}: not a {task} metric (known: {', '.join(known)})")
            if known[metric] != goal:
                other = "maxMetrics" if field == "minMetrics" else "minMetrics"
                raise SpecError(
                    f"spec.validation.{field}.{metric}: {metric} is {known[metric][:-1]}ed, "
                    f"so a bound on it belongs in {other}"
                )


def apply_gates(validation: PromotionGates | None, metrics: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """(passed, reasons) for the test-split metrics."""
    reasons: list[str] = []
    if validation is None:
        return True, reasons
    for name, bound in validation.min_metrics.items():
        value = metrics.get(name)
        if value is None:
            reasons.append(f"{name} is not defined on the test split (minimum {bound:g})")
        elif value < bound:
            reasons.append(f"{name} {value:.4g} is below the minimum {bound:g}")
    for name, bound in validation.max_metrics.items():
        value = metrics.get(name)
        if value is None:
            reasons.append(f"{name} is not defined on the test split (maximum {bound:g})")
        elif value > bound:
            reasons.append(f"{name} {value:.4g} is above the maximum {bound:g}")
    return not reasons, reasons
