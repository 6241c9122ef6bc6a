"""`train`: dataset version -> split -> (tuned) pipeline fit -> metrics and gates -> model version.

Everything that can be wrong with the request is checked before the first fit:
algorithm, hyperparameters, tuning space, gate metric names, target, split.
The model version is a hash of the inputs, so a rerun with the same inputs finds
its version already stored and reports it instead of training again.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import platform
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import modelops
from modelops.api.trainingrun import TrainingRunSpec
from modelops.artifacts.dataset_format import ColumnCleaning, LoadedDataset, dataset_reldir, fetch_dataset
from modelops.artifacts.metadata import FeatureSchema, ModelMetadata, OnnxExport, Task
from modelops.artifacts.model_format import MODEL_FILE, ONNX_FILE, load_model_from, model_reldir, save_model
from modelops.artifacts.signing import public_key_fingerprint
from modelops.artifacts.store import ArtifactStore
from modelops.contract.jobs import TrainResult
from modelops.contract.trials import Trial, TrialShard, TuneResult, deal
from modelops.trainer.algorithms import Algorithm, check_task, get_algorithm, make_estimator
from modelops.trainer.errors import DatasetNotFoundError, SpecError
from modelops.trainer.gates import apply_gates, check_gate_names
from modelops.trainer.metrics import evaluate, headline
from modelops.trainer.pipeline import MODEL_STEP, build_pipeline
from modelops.trainer.profiling import profile_frame
from modelops.trainer.sampling import Sample, sample_rows
from modelops.trainer.splitting import Splits, split_data
from modelops.trainer.targets import check_classes, check_finite, check_target
from modelops.trainer.trials import gather, read_shard, shard_reldir, write_shard
from modelops.trainer.tuning import (
    Objective,
    best_trial,
    candidates,
    check_candidates,
    cv_for,
    objective_of,
    reported_score,
    score_trials,
)
from modelops.trainer.versioning import model_version

log = logging.getLogger(__name__)

LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "skops", "skl2onnx", "onnx", "onnxruntime")
# Integer labels with at most this many distinct values are classes, not quantities.
MAX_INTEGER_CLASSES = 20


@functools.cache
def library_versions() -> dict[str, str]:
    versions = {name: importlib.metadata.version(name) for name in LIBRARIES}
    versions["python"] = platform.python_version()
    versions["modelops"] = modelops.__version__ if hasattr(modelops, "__version__") else _own_version()
    return versions


def _own_version() -> str:
    try:
        return importlib.metadata.version("modelops")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def parse_dataset_ref(ref: str) -> tuple[str, str | None]:
    name, _, version = ref.partition("@")
    if not name:
        raise SpecError(f"--dataset: expected NAME or NAME@VERSION, got {ref!r}")
    return name, version or None


def resolve_dataset(store: ArtifactStore, name: str, version: str | None) -> str:
    """The pinned version if it is complete, else the latest complete one."""
    if version is not None:
        if not store.is_complete(dataset_reldir(name, version)):
            raise DatasetNotFoundError(
                f"dataset {name!r} has no complete version {version!r} in {store.uri(f'datasets/{name}')}"
            )
        return version
    latest = store.latest_version(f"datasets/{name}")
    if latest is None:
        raise DatasetNotFoundError(f"dataset {name!r} has no complete version in {store.uri(f'datasets/{name}')}")
    return latest


def infer_task(algorithm: Algorithm, target: str | None, y: pd.Series | None) -> Task:
    if len(algorithm.tasks) == 1:
        return algorithm.tasks[0]
    if target is None or y is None:
        return "clustering"
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    if pd.api.types.is_integer_dtype(y) and y.nunique() <= MAX_INTEGER_CLASSES:
        return "classification"
    return "regression"


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _fit(pipeline: Any, X: pd.DataFrame, y: pd.Series | None) -> Any:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        # Not converging is worth a log line, not a failed run: the metrics judge the model.
        warnings.simplefilter("always", ConvergenceWarning)
        pipeline.fit(X, y)
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            log.warning("%s", warning.message)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    return pipeline


def _result_from(
    metadata: ModelMetadata,
    uri: str,
    spec: TrainingRunSpec,
    formats: list[str],
    trials: int,
    best: dict[str, Any],
) -> TrainResult:
    test = metadata.metrics.get("test", {})
    passed, reasons = apply_gates(spec.validation, test)
    return TrainResult(
        name=metadata.name,
        version=metadata.version,
        uri=uri,
        task=metadata.task,
        metrics=headline(test, metadata.task),
        passed=passed,
        reasons=reasons,
        formats=formats,
        sha256=metadata.files[MODEL_FILE],
        best_hyperparameters=best,
        trials=trials,
        code_version=metadata.libraries.get("modelops"),
        sample=metadata.metrics.get("sample"),
    )


def _metrics(pipeline: Any, splits: Splits, task: Task) -> dict[str, dict[str, Any]]:
    return {name: evaluate(pipeline, split.X, split.y, task) for name, split in splits.items()}


def _load(store: ArtifactStore, spec: TrainingRunSpec) -> tuple[Algorithm, LoadedDataset, Sample | None]:
    """The algorithm (checked against the spec before any data is read), the dataset version and its sample."""
    algorithm = get_algorithm(spec.model.algorithm)
    if spec.task is not None:
        check_task(algorithm, spec.task)
        make_estimator(
            algorithm, spec.task, spec.model.hyperparameters, spec.split.seed, field_path="spec.model.hyperparameters"
        )
    dataset_name = spec.dataset_ref.name
    dataset_version = resolve_dataset(store, dataset_name, spec.dataset_ref.version)
    loaded, sample = load_for_training(store, dataset_reldir(dataset_name, dataset_version), spec, algorithm)
    log.info("loaded dataset %s@%s (%d rows)", dataset_name, dataset_version, len(loaded.frame))
    if sample is not None:
        log.info("training on a seeded sample of %d of %d rows (spec.split.maxRows)", sample.rows.size, sample.of)
    return algorithm, loaded, sample


def run_train(
    *,
    name: str,
    store: ArtifactStore,
    spec: TrainingRunSpec,
    n_jobs: int | None = None,
    signing_key: str | None = None,
    tuning_shards: int | None = None,
) -> TrainResult:
    """Train and store a model version; with `signing_key` (PEM, elliptic curve) it is signed.

    With `tuning_shards`, the search's trials were scored by `run_tune` in that many shards:
    the best of their stored trials is refit here instead of running the search again.
    """
    # Read the key before any data: a missing or broken key fails the run at once, and its
    # fingerprint is an input of the version (a new key makes a new, newly signed version).
    signing = _Signing(signing_key, public_key_fingerprint(signing_key)) if signing_key is not None else None
    if tuning_shards is not None and spec.tuning is None:
        raise SpecError("--tuning-shards: the spec has no tuning section, so there are no trials to pick from")
    algorithm, loaded, sample = _load(store, spec)
    return _train_on(
        name=name,
        store=store,
        loaded=loaded,
        algorithm=algorithm,
        spec=spec,
        n_jobs=n_jobs,
        signing=signing,
        tuning_shards=tuning_shards,
        sample=sample,
    )


def run_tune(
    *, name: str, store: ArtifactStore, spec: TrainingRunSpec, shard: int, shards: int, n_jobs: int | None = None
) -> TuneResult:
    """Score shard `shard` of `shards` of the search's candidates and store the trials (see `gather`)."""
    if spec.tuning is None:
        raise SpecError("spec.tuning: tune runs a hyperparameter search and the spec has none")
    if not 0 <= shard < shards:
        raise SpecError(f"--shard: {shard} is not one of the {shards} shards (0..{shards - 1})")
    # The same seeded sample as the train step's: the trials are scored on the data it refits on.
    algorithm, loaded, _ = _load(store, spec)
    plan = _plan(loaded, algorithm, spec, signer=None)
    search = plan.search
    assert search is not None  # the spec has tuning
    stored = read_shard(store, name, search.key, shard, shards)
    reused = stored is not None
    if stored is None:
        positions = deal(search.points, shards)[shard]
        log.info("tuning %s: shard %d of %d, %d candidates", algorithm.name, shard, shards, len(positions))
        trials = _score(plan, search, [(i, search.points[i]) for i in positions], n_jobs)
        stored = TrialShard(search=search.key, shard=shard, shards=shards, total=len(search.points), trials=trials)
        write_shard(store, name, stored)
    else:
        log.info("shard %d of %d already stored; reporting it", shard, shards)
    return TuneResult(
        name=name,
        search=search.key,
        shard=shard,
        shards=shards,
        trials=len(stored.trials),
        uri=store.uri(shard_reldir(name, search.key, shard, shards)),
        reused=reused,
    )


def load_for_training(
    store: ArtifactStore, reldir: str, spec: TrainingRunSpec, algorithm: Algorithm
) -> tuple[LoadedDataset, Sample | None]:
    """The dataset's features and target, nothing else; only a seeded sample of its rows beyond `spec.split.maxRows`.

    The sample is drawn from the label column alone (stratified where the split is), then only
    the sampled rows are read, so memory follows the limit rather than the dataset.
    """
    with tempfile.TemporaryDirectory(prefix="modelops-dataset-") as scratch:
        fetched = fetch_dataset(store, reldir, Path(scratch))
        manifest = fetched.manifest
        target = manifest.target
        needed = [*manifest.features, *([target] if target is not None else [])]
        limit = spec.split.max_rows
        sample = None
        if limit is not None and manifest.rows > limit:
            labels = None
            if target is not None:
                y = fetched.read([target])[target]
                task = spec.task or infer_task(algorithm, target, y)
                stratify = task == "classification" if spec.split.stratify is None else spec.split.stratify
                labels = y if stratify and task == "classification" else None
                del y
            sample = sample_rows(manifest.rows, limit, seed=spec.split.seed, labels=labels)
        frame = fetched.read(needed, sample.rows.tolist() if sample is not None else None)
    return LoadedDataset(manifest=manifest, frame=frame, profile=fetched.profile, uri=fetched.uri), sample


@dataclass(frozen=True)
class _Search:
    objective: Objective
    points: list[dict[str, Any]]
    cv: Any
    folds: int
    key: str  # what the trials' scores depend on (the model's inputs, but not who signs it)


@dataclass(frozen=True)
class _Plan:
    """Everything a fit needs, all validated: building one is the 'bad input' phase."""

    task: Task
    target: str | None
    features: list[str]
    schema: list[FeatureSchema]
    estimator: Any
    scale: bool
    splits: Splits
    search: _Search | None
    dataset_ref: str
    version: str
    cleaning: dict[str, ColumnCleaning]

    def pipeline(self) -> Any:
        """A new unfitted pipeline: the Dataset's cleaning, preprocessing, a fresh copy of the estimator."""
        from sklearn.base import clone

        return build_pipeline(self.schema, clone(self.estimator), scale=self.scale, cleaning=self.cleaning)


@dataclass(frozen=True)
class _Signing:
    key: str  # path of the private key
    fingerprint: str  # of its public key


def _plan(loaded: LoadedDataset, algorithm: Algorithm, spec: TrainingRunSpec, signer: str | None) -> _Plan:
    manifest = loaded.manifest
    target = manifest.target
    task = spec.task or infer_task(algorithm, target, loaded.frame[target] if target else None)
    check_task(algorithm, task)
    if task != "clustering" and target is None:
        raise SpecError(
            f"spec.task: {task} needs a target column and dataset {manifest.name!r} has none "
            "(set the Dataset's spec.target)"
        )
    seed = spec.split.seed
    hyperparameters = spec.model.hyperparameters
    estimator = make_estimator(algorithm, task, hyperparameters, seed, field_path="spec.model.hyperparameters")
    check_gate_names(spec.validation, task)
    features = list(manifest.features)
    check_finite(loaded.frame, [*features, *([target] if target else [])])
    if target is not None:
        check_target(loaded.frame[target], target, task)
    splits = split_data(loaded.frame, features=features, target=target, task=task, spec=spec.split)
    if task == "classification" and target is not None and splits.train.y is not None:
        check_classes(splits.train.y, target, "the training split")
    dataset_ref = f"{manifest.name}@{manifest.version}"
    inputs = {
        "dataset": dataset_ref,
        "task": task,
        "algorithm": algorithm.name,
        "hyperparameters": hyperparameters,
        # maxRows only when set, so that versions trained on all rows keep the identifiers they had.
        "split": spec.split.model_dump(mode="json", exclude={"max_rows"} if spec.split.max_rows is None else None),
        # How many pods ran the trials changes where they ran, not what they found.
        "tuning": spec.tuning.model_dump(mode="json", exclude={"parallelism"}) if spec.tuning else None,
        "features": features,
        "target": target,
        # The row-wise cleaning is the pipeline's first step: a different one is a different model.
        "cleaning": {name: rule.model_dump(mode="json") for name, rule in sorted(manifest.cleaning.items())},
        "libraries": library_versions(),
    }
    unsigned = model_version(inputs)
    # The signer only when signing, so that unsigned versions keep the identifiers they always had.
    version = model_version({**inputs, "signer": signer}) if signer is not None else unsigned
    search = None
    if spec.tuning is not None:
        points = candidates(spec.tuning, seed)
        check_candidates(points, algorithm, task, hyperparameters, seed)
        cv = cv_for(task, spec.tuning.cv_folds, seed, splits.train.y)
        search = _Search(objective_of(spec.tuning, task), points, cv, spec.tuning.cv_folds, key=unsigned)
    return _Plan(
        task=task,
        target=target if task != "clustering" else None,
        features=features,
        schema=[f for f in manifest.feature_schema if f.name in set(features)],
        estimator=estimator,
        scale=algorithm.scale,
        splits=splits,
        search=search,
        dataset_ref=dataset_ref,
        version=version,
        cleaning=dict(manifest.cleaning),
    )


def _score(plan: _Plan, search: _Search, points: list[tuple[int, dict[str, Any]]], n_jobs: int | None) -> list[Trial]:
    """Cross-validate `points` (positions in the candidate list, candidates) on the training split."""
    train = plan.splits.train
    return score_trials(
        plan.pipeline(),
        points,
        X=train.X,
        y=train.y if plan.task != "clustering" else None,
        task=plan.task,
        objective=search.objective,
        cv=search.cv,
        n_jobs=n_jobs,
    )


def _reuse(store: ArtifactStore, reldir: str, spec: TrainingRunSpec) -> TrainResult:
    """The result of a version an earlier run with the same inputs already stored."""
    existing = load_model_from(store, reldir)
    cv_info = existing.metadata.metrics.get("cv", {})
    formats = ["skops", "onnx"] if ONNX_FILE in existing.metadata.files else ["skops"]
    trials = int(cv_info.get("trials", 1))
    return _result_from(existing.metadata, existing.uri, spec, formats, trials, cv_info.get("best", {}))


def _train_on(
    *,
    name: str,
    store: ArtifactStore,
    loaded: LoadedDataset,
    algorithm: Algorithm,
    spec: TrainingRunSpec,
    n_jobs: int | None,
    signing: _Signing | None,
    tuning_shards: int | None,
    sample: Sample | None,
) -> TrainResult:
    plan = _plan(loaded, algorithm, spec, signing.fingerprint if signing else None)
    reldir = model_reldir(name, plan.version)
    if store.is_complete(reldir):
        log.info("model version %s already stored; reporting it", plan.version)
        return _reuse(store, reldir, spec)

    pipeline = plan.pipeline()
    train = plan.splits.train
    y_train = train.y if plan.task != "clustering" else None
    best: dict[str, Any] = {}
    trials = 1
    cv_metrics: dict[str, dict[str, Any]] = {}
    if plan.search is not None:
        search = plan.search
        if tuning_shards is None:
            log.info("tuning %s: %d candidates x %d folds", algorithm.name, len(search.points), search.folds)
            scored = _score(plan, search, list(enumerate(search.points)), n_jobs)
        else:
            scored = gather(store, name, search.key, tuning_shards, search.points)
            log.info("picking the best of %d trials scored by %d shards", len(scored), tuning_shards)
        chosen = best_trial(scored)
        best, trials = dict(chosen.parameters), len(scored)
        cv_metrics["cv"] = {
            "objective": search.objective.metric,
            "best_score": reported_score(chosen, search.objective),
            "trials": trials,
            "best": best,
        }
        log.info("refitting %s with %s on %d rows", algorithm.name, best, len(train.X))
        pipeline = _fit(pipeline.set_params(**{f"{MODEL_STEP}__{k}": v for k, v in best.items()}), train.X, y_train)
    else:
        log.info("fitting %s on %d rows", algorithm.name, len(train.X))
        pipeline = _fit(pipeline, train.X, y_train)
    metrics = {**_metrics(pipeline, plan.splits, plan.task), **cv_metrics}
    if sample is not None:
        metrics["sample"] = sample.metrics()

    metadata = ModelMetadata(
        name=name,
        version=plan.version,
        task=plan.task,
        algorithm=algorithm.name,
        hyperparameters={**spec.model.hyperparameters, **best},
        target=plan.target,
        features=plan.schema,
        classes=[_python(c) for c in pipeline.classes_] if plan.task == "classification" else None,
        metrics=metrics,
        dataset=plan.dataset_ref,
        profile=profile_frame(train.X, plan.features),
        onnx=OnnxExport(exported=False),
        libraries=library_versions(),
        files={},
    )
    saved = save_model(
        store, pipeline, metadata, check_frame=plan.splits.test.X, signing_key=signing.key if signing else None
    )
    log.info("wrote model version %s (%s)", saved.uri, ", ".join(saved.formats))
    if not saved.metadata.onnx.exported:
        log.info("no ONNX export: %s", saved.metadata.onnx.reason)
    return _result_from(saved.metadata, saved.uri, spec, saved.formats, trials, best)
