"""What "drifted" and "worse" mean: one definition, used by the server and by the operator.

The server exports per-feature drift statistics and counts drifted features with these
functions; the operator reads the same statistics and decides retraining and rollback with
the same functions, so the two can never disagree on a threshold.
"""

from __future__ import annotations

from typing import Final, Literal

DriftMethod = Literal["psi", "ks"]
LiveMetric = Literal["accuracy", "f1", "rmse", "mae"]

# The per-feature statistic each drift method judges: PSI, or the KS statistic (both grow with drift).
FEATURE_STATISTIC: Final[dict[DriftMethod, str]] = {
    "psi": "modelops_drift_psi",
    "ks": "modelops_drift_ks_statistic",
}
DRIFT_SCORE: Final = "modelops_drift_score"
LIVE_PREFIX: Final = "modelops_live_"
# Metrics where a larger value is worse.
LOWER_IS_BETTER: Final[frozenset[str]] = frozenset({"rmse", "mae"})


def is_drifted(statistic: float, threshold: float) -> bool:
    """A feature (or the overall score, the largest feature statistic) has drifted past `threshold`."""
    return statistic > threshold


def live_series(metric: str) -> str:
    """The serving gauge that carries a live metric, e.g. `modelops_live_accuracy`."""
    return f"{LIVE_PREFIX}{metric}"


def is_worse(metric: str, value: float, bound: float) -> bool:
    """`value` of `metric` is worse than `bound` (above it for error metrics, below it otherwise)."""
    return value > bound if metric in LOWER_IS_BETTER else value < bound
