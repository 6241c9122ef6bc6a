"""`prepare`: source -> selected columns -> PII handling -> cleaning -> gates -> dataset version.

Nothing is written before every gate has passed, and PII is handled before
anything else looks at the data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from modelops.api.dataset import DatasetSpec, DataValidation, Governance
from modelops.artifacts.dataset_format import DatasetManifest, dataset_reldir, frame_to_parquet, save_dataset
from modelops.artifacts.store import ArtifactStore
from modelops.contract.jobs import DatasetResult, SourceLimits
from modelops.trainer.cleaning import clean
from modelops.trainer.errors import QualityGateError, SpecError
from modelops.trainer.governance import apply_governance
from modelops.trainer.profiling import feature_schema, profile_frame
from modelops.trainer.quality import check_quality, infinite_values, missing_fractions
from modelops.trainer.report import render_report
from modelops.trainer.sources import BUILTIN_TARGET, SourceLocations, load_source
from modelops.trainer.versioning import dataset_version

log = logging.getLogger(__name__)


def resolve_columns(frame: pd.DataFrame, spec: DatasetSpec, *, builtin: bool) -> tuple[str | None, list[str]]:
    """(target, features) as the spec names them, checked against the data."""
    columns = [str(c) for c in frame.columns]
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


def normalise_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Booleans become 0/1 integers and mixed-type (object) columns text, so every
    column is either numeric or categorical for the profile, the pipeline and ONNX.
    String columns are left as they are: converting them to Python objects would
    multiply their memory."""
    out = frame.copy(deep=False)
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_bool_dtype(column):
            out[name] = column.astype("int64")
        elif column.dtype == object:
            out[name] = column.where(column.isna(), column.astype(str))
    return out


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


def run_prepare(
    *, name: str, store: ArtifactStore, spec: DatasetSpec, locations: SourceLocations, limits: SourceLimits
) -> DatasetResult:
    raw, source = load_source(spec.source, locations, limits)
    raw.columns = [str(c) for c in raw.columns]
    log.info("read %d rows x %d columns from %s", len(raw), len(raw.columns), source)
    builtin = spec.source.builtin is not None and locations.source_file is None
    target, features = resolve_columns(raw, spec, builtin=builtin)
    rows_ingested = len(raw)
    governance = spec.governance or Governance()
    selected, dropped_pii = apply_governance(
        raw[[*features, *([target] if target else [])]], governance, target=target, dataset_name=name
    )
    del raw  # the unselected columns may hold data that must not linger
    features = [f for f in features if f not in dropped_pii]
    if not features:
        raise SpecError("spec.governance.piiColumns: every feature column is PII; nothing left to train on")
    selected = normalise_dtypes(selected)
    columns = [*features, *([target] if target else [])]
    if infinite := infinite_values(selected, columns):
        raise QualityGateError(infinite)
    raw_missing = missing_fractions(selected, columns)
    missing_cells = int(selected[columns].isna().to_numpy().sum())

    cleaned, counts, fitted = clean(selected, spec.cleaning, features=features, target=target)
    del selected
    check_quality(raw_missing, cleaned, spec.validation or DataValidation())
    if len(cleaned) == 0:
        raise QualityGateError(["no rows left after cleaning"])

    version = dataset_version(cleaned, target=target)
    reldir = dataset_reldir(name, version)
    quality = {
        "rows_ingested": rows_ingested,
        "missing_values": missing_cells,
        **counts.as_dict(),
        "pii_columns": len(governance.pii_columns),
    }
    if store.is_complete(reldir):
        log.info("dataset version %s already stored; marking it the latest", version)
        uri = store.refresh(reldir)
    else:
        profile = profile_frame(cleaned, features)
        report = render_report(
            title=f"Dataset {name} @ {version}",
            source=source,
            frame=cleaned,
            raw_missing=raw_missing,
            profile=profile,
            target=target,
            quality=quality,
        )
        manifest = DatasetManifest(
            name=name,
            version=version,
            target=target,
            features=features,
            feature_schema=feature_schema(cleaned, features, nullable=nullable_features(features, raw_missing, spec)),
            rows=len(cleaned),
            columns=len(cleaned.columns),
            quality=quality,
            source=source,
            cleaning=fitted,
        )
        uri = save_dataset(store, manifest, data=frame_to_parquet(cleaned), profile=profile, report_html=report)
        log.info("wrote dataset version %s", uri)
    return DatasetResult(
        name=name,
        version=version,
        rows=len(cleaned),
        columns=len(cleaned.columns),
        artifact=uri,
        report=f"{uri}/report.html",
        profile=f"{uri}/profile.json",
        quality=quality,
    )
