"""`prepare`: source -> selected columns -> PII handling -> cleaning -> gates -> dataset version.

Nothing is written to the store before every gate has passed, and PII is handled before
anything else looks at the data. The data is never held whole: the source is read once, batch
by batch, into a spill on local disk (`ingest`); cleaning is fitted on the spill (`cleaning`);
one more pass cleans each batch and feeds the version hash, the gates, the profile's counts, the
report's sample and the Parquet file at once; the profile's exact statistics read the cleaned
columns back one at a time. Peak memory follows `PrepareLimits.memory_bytes`, not the data.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelops.api.dataset import DatasetSpec, DataValidation, Governance
from modelops.artifacts.dataset_format import DatasetManifest, ParquetRows, dataset_reldir, save_dataset
from modelops.artifacts.metadata import DatasetProfile, FeatureProfile, FeatureSchema, NumericProfile
from modelops.artifacts.store import ArtifactStore
from modelops.contract.jobs import DatasetResult, PrepareLimits, SourceLimits
from modelops.trainer.budget import Budget
from modelops.trainer.cleaning import CategoryCounts, CleaningPlan, fit_cleaning
from modelops.trainer.errors import QualityGateError, SpecError
from modelops.trainer.governance import pii_columns, pii_key
from modelops.trainer.ingest import Ingested, ingest
from modelops.trainer.profiling import categorical_profile, numeric_profile, schema_of
from modelops.trainer.quality import QualityGates, infinite_failures
from modelops.trainer.report import PLOT_SAMPLE_ROWS, plot_rows, render_report
from modelops.trainer.sources import BUILTIN_TARGET, SourceLocations, open_source
from modelops.trainer.versioning import DatasetHash

log = logging.getLogger(__name__)


def resolve_columns(columns: Sequence[str], spec: DatasetSpec, *, builtin: bool) -> tuple[str | None, list[str]]:
    """(target, features) as the spec names them, checked against the data's columns."""
    target = spec.target if spec.target is not None else (BUILTIN_TARGET if builtin else None)
    if target is not None and target not in columns:
        raise SpecError(f"spec.target: column {target!r} is not in the data ({len(columns)} columns)")
    if spec.features is None:
        features = [c for c in columns if c != target]
    else:
        unknown = [c for c in spec.features if c not in columns]
        if unknown:
            raise SpecError(f"spec.features: columns not in the data: {unknown} ({len(columns)} columns)")
        if target is not None and target in spec.features:
            raise SpecError(f"spec.features: the target {target!r} cannot also be a feature")
        features = list(dict.fromkeys(spec.features))
    if not features:
        raise SpecError("spec.features: no feature columns")
    return target, features


def nullable_features(features: Sequence[str], raw_missing: dict[str, float], spec: DatasetSpec) -> set[str]:
    """Features a prediction request may leave out: as declared, else those the data had missing values in.

    A model trained without any missing value in a column has no business guessing one: a request
    that leaves it out gets a 422 naming it, unless the Dataset declared the column nullable.
    """
    declared = {rule.name: rule.nullable for rule in (spec.validation.columns if spec.validation else [])}
    nullable = set()
    for name in features:
        choice = declared.get(name)
        if choice if choice is not None else raw_missing.get(name, 0.0) > 0:
            nullable.add(name)
    return nullable


@dataclass
class _Cleaned:
    """What the pass over the cleaned data learned on its way to the Parquet file."""

    version: str
    missing: dict[str, int]  # per feature, after cleaning
    frequencies: CategoryCounts  # of the text features
    sample: pd.DataFrame  # the rows the report plots


def _write_cleaned(
    plan: CleaningPlan,
    columns: Sequence[str],
    features: Sequence[str],
    *,
    target: str | None,
    gates: QualityGates,
    budget: Budget,
    data: Path,
) -> _Cleaned:
    """Clean every batch and feed it to the version hash, the gates, the profile's counts, the sample and `data`."""
    spill, rows = plan.rows.spill, plan.row_count
    types = [spill.types[c] for c in columns]
    version = DatasetHash(columns, types, target=target, rows=rows)
    text = [c for c in features if not spill.numeric(c)]
    frequencies = CategoryCounts(text, limit=budget.categories)
    missing = dict.fromkeys(features, 0)
    # The plots' rows: a seeded sample, as many as a batch may hold.
    picks = plot_rows(rows, limit=min(PLOT_SAMPLE_ROWS, max(1, budget.batch_cells // max(1, len(columns)))))
    sample: list[pd.DataFrame] = []
    writer = ParquetRows(data)
    start = 0
    try:
        for frame in plan.rows.batches(columns):
            version.update(frame)
            gates.add(frame)
            frequencies.add(frame)
            for name, count in frame[list(features)].isna().sum().items():
                missing[str(name)] += int(count)
            low, high = np.searchsorted(picks, [start, start + len(frame)])
            sample.append(frame.iloc[picks[low:high] - start])
            start += len(frame)
            writer.write(frame.reset_index(drop=True))
    finally:
        writer.close()
    shown = pd.concat(sample, ignore_index=True) if sample else pd.DataFrame(columns=list(columns))
    return _Cleaned(version=version.version(), missing=missing, frequencies=frequencies, sample=shown)


def _profile(plan: CleaningPlan, features: Sequence[str], cleaned: _Cleaned, budget: Budget) -> DatasetProfile:
    """The cleaned data's profile: counted on the way, numbers exact from the cleaned columns read back."""
    spill, profiles = plan.rows.spill, {}
    for name in features:
        profile: FeatureProfile
        if spill.numeric(name):
            values = plan.rows.values(name, gather=budget.gather_values)
            profile = numeric_profile(
                values.floats(), count=values.count, missing=values.missing, gather=budget.gather_values
            )
        else:
            profile = categorical_profile(cleaned.frequencies.counts[name], missing=cleaned.missing[name])
        profiles[name] = profile
    return DatasetProfile(rows=plan.row_count, features=profiles)


def _schema(plan: CleaningPlan, profile: DatasetProfile, cleaned: _Cleaned, nullable: set[str]) -> list[FeatureSchema]:
    schema = []
    for name, feature in profile.features.items():
        dtype = plan.rows.spill.types[name]
        if isinstance(feature, NumericProfile):
            present = feature.count > 0
            low, high = (feature.min, feature.max) if present else (None, None)
            schema.append(schema_of(name, dtype, nullable=name in nullable, minimum=low, maximum=high))
        else:
            categories = cleaned.frequencies.counts[name]
            schema.append(schema_of(name, dtype, nullable=name in nullable, categories=categories))
    return schema


def _raw_missing(ingested: Ingested) -> dict[str, float]:
    rows = ingested.spill.rows
    return {name: (count / rows if rows else 0.0) for name, count in ingested.missing.items()}


def run_prepare(
    *,
    name: str,
    store: ArtifactStore,
    spec: DatasetSpec,
    locations: SourceLocations,
    limits: SourceLimits,
    budget: Budget | None = None,
) -> DatasetResult:
    """Prepare one dataset version; `budget` defaults to the shares of `PrepareLimits`' default memory."""
    budget = budget or Budget.of(PrepareLimits().memory_bytes)
    governance = spec.governance or Governance()
    builtin = spec.source.builtin is not None and locations.source_file is None
    with tempfile.TemporaryDirectory(prefix="modelops-prepare-") as tmp:
        scratch = Path(tmp)
        with open_source(spec.source, locations, limits) as (table, source):
            names = table.column_names()
            target, features = resolve_columns(names, spec, builtin=builtin)
            dropped, hashed = pii_columns([*features, *([target] if target else [])], governance, target=target)
            # The unselected columns and the PII to drop are never read: nothing of them can linger.
            features = [f for f in features if f not in dropped]
            if not features:
                raise SpecError("spec.governance.piiColumns: every feature column is PII; nothing left to train on")
            columns = [*features, *([target] if target else [])]
            ingested = ingest(
                table, columns, hashed=hashed, key=pii_key(name), cells=budget.batch_cells, directory=scratch / "spill"
            )
        spill = ingested.spill
        log.info("read %d rows x %d columns from %s", spill.rows, len(names), source)
        if ingested.infinite:
            raise QualityGateError(infinite_failures(ingested.infinite))
        raw_missing = _raw_missing(ingested)
        plan = fit_cleaning(spill, spec.cleaning, features=features, target=target, budget=budget, scratch=scratch)
        gates = QualityGates(spec.validation or DataValidation(), {c: spill.types[c] for c in columns})
        data = scratch / "data.parquet"
        cleaned = _write_cleaned(plan, columns, features, target=target, gates=gates, budget=budget, data=data)
        gates.check(raw_missing)
        rows = plan.row_count
        if rows == 0:
            raise QualityGateError(["no rows left after cleaning"])
        quality = {
            "rows_ingested": spill.rows,
            "missing_values": sum(ingested.missing.values()),
            **plan.counts.as_dict(),
            "pii_columns": len(governance.pii_columns),
        }
        version = cleaned.version
        reldir = dataset_reldir(name, version)
        if store.is_complete(reldir):
            log.info("dataset version %s already stored; marking it the latest", version)
            uri = store.refresh(reldir)
        else:
            uri = _store_version(
                store, name, version, spec, plan, features, target, cleaned, raw_missing, quality, source, budget, data
            )
    return DatasetResult(
        name=name,
        version=version,
        rows=rows,
        columns=len(columns),
        artifact=uri,
        report=f"{uri}/report.html",
        profile=f"{uri}/profile.json",
        quality=quality,
    )


def _store_version(
    store: ArtifactStore,
    name: str,
    version: str,
    spec: DatasetSpec,
    plan: CleaningPlan,
    features: Sequence[str],
    target: str | None,
    cleaned: _Cleaned,
    raw_missing: dict[str, float],
    quality: Mapping[str, int],
    source: str,
    budget: Budget,
    data: Path,
) -> str:
    profile = _profile(plan, features, cleaned, budget)
    report = render_report(
        title=f"Dataset {name} @ {version}",
        source=source,
        sample=cleaned.sample,
        rows=plan.row_count,
        raw_missing=raw_missing,
        profile=profile,
        target=target,
        quality=quality,
    )
    nullable = nullable_features(features, raw_missing, spec)
    manifest = DatasetManifest(
        name=name,
        version=version,
        target=target,
        features=list(features),
        feature_schema=_schema(plan, profile, cleaned, nullable),
        rows=plan.row_count,
        columns=len(cleaned.sample.columns),
        quality=dict(quality),
        source=source,
        cleaning=plan.fitted,
    )
    uri = save_dataset(store, manifest, data=data, profile=profile, report_html=report)
    log.info("wrote dataset version %s", uri)
    return uri
