"""The HTML report stored with each dataset version: one self-contained page.

Plots are PNGs inlined as base64 so the page renders anywhere (an S3 console,
a browser on a downloaded file) without fetching anything. They are drawn from a
seeded sample of the rows (`plot_rows`); the numbers in the tables come from the
profile, which covers every row.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelops.artifacts.metadata import OTHER_CATEGORY, CategoricalProfile, DatasetProfile, NumericProfile
from modelops.trainer.cleaning import is_numeric

MAX_HISTOGRAMS = 36
MAX_CORRELATION_COLUMNS = 30
PLOT_SAMPLE_ROWS = 50_000


def plot_rows(rows: int, *, limit: int = PLOT_SAMPLE_ROWS) -> npt.NDArray[np.int64]:
    """Which of `rows` rows (numbered in order) the plots show: all, or a seeded sample of `limit`, sorted."""
    if rows <= limit:
        return np.arange(rows, dtype=np.int64)
    return np.sort(np.random.default_rng(0).choice(rows, size=limit, replace=False)).astype(np.int64)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f3f3; } td.name { text-align: left; font-weight: 600; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5rem 0; }
</style></head><body>
<h1>{{ title }}</h1>
<p>Source: <code>{{ source }}</code> &middot; {{ rows }} rows &middot; {{ columns }} columns
{% if target %}&middot; target <code>{{ target }}</code>{% endif %}</p>
<h2>Data quality</h2>
<table>{% for k, v in quality.items() %}<tr><td class="name">{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
{% if not any_missing %}<p>No missing values as ingested.</p>{% endif %}
{% if numeric %}<h2>Numeric features</h2>
<table><tr><th>feature</th><th>count</th><th>missing</th><th>mean</th><th>std</th><th>min</th>
<th>median</th><th>max</th></tr>
{% for name, p in numeric %}<tr><td class="name">{{ name }}</td><td>{{ p.count }}</td><td>{{ p.missing }}</td>
<td>{{ "%.4g"|format(p.mean) }}</td><td>{{ "%.4g"|format(p.std) }}</td><td>{{ "%.4g"|format(p.min) }}</td>
<td>{{ "%.4g"|format(p.quantiles["0.5"]) }}</td><td>{{ "%.4g"|format(p.max) }}</td></tr>{% endfor %}
</table>{% endif %}
{% if categorical %}<h2>Categorical features</h2>
<table><tr><th>feature</th><th>count</th><th>missing</th><th>distinct</th><th>most frequent</th></tr>
{% for name, p, distinct, top in categorical %}<tr><td class="name">{{ name }}</td><td>{{ p.count }}</td>
<td>{{ p.missing }}</td><td>{{ distinct }}</td><td>{{ top }}</td></tr>{% endfor %}
</table>{% endif %}
{% for title, png in plots %}<h2>{{ title }}</h2>
<img alt="{{ title }}" src="data:image/png;base64,{{ png }}">{% endfor %}
</body></html>
"""


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _histograms(frame: pd.DataFrame, columns: Sequence[str], plt: Any) -> str:
    shown = list(columns)[:MAX_HISTOGRAMS]
    ncols = min(4, len(shown))
    nrows = (len(shown) + ncols - 1) // ncols
    figure, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.4 * nrows), squeeze=False)
    for axis, name in zip(axes.flat, shown, strict=False):
        axis.hist(frame[name].dropna().to_numpy(dtype=np.float64), bins=20, color="#4878a8")
        axis.set_title(str(name), fontsize=9)
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(shown) :]:
        axis.axis("off")
    figure.tight_layout()
    png = _png(figure)
    plt.close(figure)
    return png


def _correlations(frame: pd.DataFrame, columns: Sequence[str], plt: Any) -> str:
    shown = list(columns)[:MAX_CORRELATION_COLUMNS]
    matrix = frame[shown].corr().to_numpy()
    size = max(4.0, 0.35 * len(shown) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(matrix, cmap="coolwarm", vmin=-1, vmax=1)
    axis.set_xticks(range(len(shown)), [str(c) for c in shown], rotation=90, fontsize=7)
    axis.set_yticks(range(len(shown)), [str(c) for c in shown], fontsize=7)
    figure.colorbar(image, ax=axis, shrink=0.8)
    png = _png(figure)
    plt.close(figure)
    return png


def _missing(missing: Mapping[str, float], plt: Any) -> str:
    names = list(missing)
    figure, axis = plt.subplots(figsize=(max(4.0, 0.3 * len(names) + 2), 3))
    axis.bar(range(len(names)), [100 * missing[n] for n in names], color="#c0504d")
    axis.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    axis.set_ylabel("% missing (as ingested)")
    png = _png(figure)
    plt.close(figure)
    return png


def _categorical_row(name: str, profile: CategoricalProfile) -> tuple[str, CategoricalProfile, str, str]:
    """(name, profile, distinct values, most frequent) with the lumped tail kept out of both."""
    named = {k: v for k, v in profile.frequencies.items() if k != OTHER_CATEGORY}
    distinct = f"more than {len(named)}" if OTHER_CATEGORY in profile.frequencies else str(len(named))
    top = max(named, key=named.__getitem__) if named else ""
    return name, profile, distinct, top


def render_report(
    *,
    title: str,
    source: str,
    sample: pd.DataFrame,
    rows: int,
    raw_missing: Mapping[str, float],
    profile: DatasetProfile,
    target: str | None,
    quality: Mapping[str, int],
) -> str:
    """The report page for cleaned data of `rows` rows, plotted from `sample` (its `plot_rows`).

    `raw_missing` is the missing fraction per column as ingested.
    """
    import jinja2
    import matplotlib

    matplotlib.use("Agg")  # no display in a Job; must precede pyplot's import
    import matplotlib.pyplot as plt

    numeric_columns = [c for c in sample.columns if is_numeric(sample[c])]
    plots: list[tuple[str, str]] = []
    if numeric_columns:
        plots.append(("Histograms", _histograms(sample, numeric_columns, plt)))
    if len(numeric_columns) > 1:
        plots.append(("Correlations", _correlations(sample, numeric_columns, plt)))
    any_missing = any(fraction > 0 for fraction in raw_missing.values())
    if any_missing:
        plots.append(("Missing values", _missing(raw_missing, plt)))
    numeric = [(n, p) for n, p in profile.features.items() if isinstance(p, NumericProfile)]
    categorical = [_categorical_row(n, p) for n, p in profile.features.items() if isinstance(p, CategoricalProfile)]
    template = jinja2.Environment(autoescape=True).from_string(_TEMPLATE)
    return template.render(
        title=title,
        source=source,
        rows=rows,
        columns=len(sample.columns),
        target=target,
        quality=dict(quality),
        numeric=numeric,
        categorical=categorical,
        plots=plots,
        any_missing=any_missing,
    )
