"""Command line of the trainer: `python -m modelops.trainer prepare|train ...`.

The operator passes a CR's whole `.spec` as `--spec-json`; the other flags are
for people running it by hand and override the matching spec fields. This is
the one place where errors become exit codes and termination messages (see
modelops.trainer for the codes).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ValidationError

from modelops.artifacts.errors import (
    ArtifactError,
    InvalidArtifactURIError,
    StorageUnavailableError,
)
from modelops.contract.jobs import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_TRANSIENT,
    REASON_BAD_INPUT,
    REASON_INTERNAL,
    REASON_TRANSIENT,
    SIGNING_KEY_DIR,
    PrepareJobArgs,
    PrepareLimits,
    SourceLimits,
    TrainJobArgs,
    TuneJobArgs,
)
from modelops.contract.trials import COMPLETION_INDEX_ENV
from modelops.trainer.errors import BadInputError, SpecError, TransientError
from modelops.trainer.spec import describe_validation_error, parse_spec, spec_object
from modelops.trainer.termination import report

log = logging.getLogger("modelops.trainer")

# Names become path segments in the store; the CR names that reach here are DNS-1123 already.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_.]{0,251}[a-z0-9])?$")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SpecError(f"{self.prog}: {message}")


def outcome_of(error: BaseException) -> tuple[int, str]:
    """(exit code, termination reason) for an exception."""
    if isinstance(error, TransientError | StorageUnavailableError):
        return EXIT_TRANSIENT, REASON_TRANSIENT
    if isinstance(error, BadInputError | ArtifactError):
        # Missing, tampered or unparsable artifacts and refused credentials: a retry sees the same.
        return EXIT_BAD_INPUT, REASON_BAD_INPUT
    return EXIT_INTERNAL, REASON_INTERNAL


def _spec_dict(args: argparse.Namespace) -> dict[str, Any]:
    if args.spec_json and args.spec_file:
        raise SpecError("give --spec-json or --spec-file, not both")
    text = args.spec_json
    if args.spec_file:
        try:
            text = Path(args.spec_file).read_text()
        except OSError as e:
            raise SpecError(f"--spec-file: cannot read {args.spec_file}: {e}") from e
    return spec_object(text) if text else {}


def _shards(text: str) -> int:
    """A number of shards: one shard is no spreading at all (run `train` without shards)."""
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{value} is not a number of shards (2 or more)")
    return value


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise SpecError(f"--name: {name!r} is not a valid name (lowercase letters, digits, '-', '.', '_')")
    return name


def _store(job: PrepareJobArgs | TrainJobArgs | TuneJobArgs, s3_endpoint: str | None) -> Any:
    """The namespace's part of the store: everything the Job reads or writes is under it."""
    from modelops.artifacts.store import ArtifactStore, namespace_root

    try:
        return ArtifactStore.from_uri(namespace_root(job.store, job.namespace), endpoint_url=s3_endpoint)
    except InvalidArtifactURIError as e:
        raise SpecError(f"--store/--namespace: {e}") from e


def prepare_args(args: argparse.Namespace) -> PrepareJobArgs:
    """The prepare Job's arguments: the spec, with the shortcut flags applied over it."""
    from modelops.api.dataset import DatasetSpec

    data = _spec_dict(args)
    if args.builtin:
        data["source"] = {"builtin": {"name": args.builtin}}
    elif args.url:
        data["source"] = {"url": {"url": args.url}}
    elif args.source_file and "source" not in data:
        data["source"] = {"configMap": {"name": "local", "key": Path(args.source_file).name}}
    if args.target:
        data["target"] = args.target
    spec = parse_spec(DatasetSpec, data)
    return PrepareJobArgs(namespace=args.namespace, name=_check_name(args.name), store=args.store, spec=spec)


def _training_fields(args: argparse.Namespace) -> dict[str, Any]:
    """What a train and a tune command line share: the spec, with `--dataset` and the shortcut flags over it."""
    from modelops.api.trainingrun import TrainingRunSpec
    from modelops.trainer.train import parse_dataset_ref

    data = _spec_dict(args)
    # --dataset names the version to train on (the operator resolves the CR's
    # datasetRef and pins it), so like the other flags it overrides the spec's.
    dataset, version = parse_dataset_ref(args.dataset)
    data["datasetRef"] = {"name": dataset} | ({"version": version} if version else {})
    if args.algorithm:
        data.setdefault("model", {})["algorithm"] = args.algorithm
    if args.task:
        data["task"] = args.task
    if args.seed is not None:
        data.setdefault("split", {})["seed"] = args.seed
    return {
        "namespace": args.namespace,
        "name": _check_name(args.name),
        "store": args.store,
        "dataset": dataset,
        "dataset_version": version,
        "spec": parse_spec(TrainingRunSpec, data),
    }


def train_args(args: argparse.Namespace) -> TrainJobArgs:
    """The train Job's arguments."""
    return TrainJobArgs(**_training_fields(args), signing_key=args.signing_key, tuning_shards=args.tuning_shards)


def tune_args(args: argparse.Namespace) -> TuneJobArgs:
    """The tune Job's arguments (the same for each of its pods; the shard index is the pod's own)."""
    return TuneJobArgs(**_training_fields(args), shards=args.shards)


def shard_index(args: argparse.Namespace) -> int:
    """`--shard`, else the index the Job controller gives each pod of an Indexed Job."""
    if args.shard is not None:
        return int(args.shard)
    value = os.environ.get(COMPLETION_INDEX_ENV, "")
    if not value.isdigit():
        raise SpecError(f"--shard: not given and ${COMPLETION_INDEX_ENV} is {value!r}, not an index")
    return int(value)


def _prepare(args: argparse.Namespace) -> BaseModel:
    # Arrow's own allocator cannot reuse the heap pandas freed while cleaning, so
    # writing Parquet would stack fresh pages on top of it (about 20% higher peak
    # RSS, see bench/training). Arrow reads this once, before its first allocation.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    from modelops.trainer.budget import Budget
    from modelops.trainer.prepare import run_prepare
    from modelops.trainer.sources import SourceLocations

    job = prepare_args(args)
    defaults = SourceLocations()
    locations = SourceLocations(
        source_dir=args.source_dir or defaults.source_dir,
        pvc_root=args.pvc_root or defaults.pvc_root,
        source_file=args.source_file,
    )
    limits = _settings(SourceLimits)
    memory = _settings(PrepareLimits)
    return run_prepare(
        name=job.name,
        store=_store(job, args.s3_endpoint),
        spec=job.spec,
        locations=locations,
        limits=limits,
        budget=Budget.of(memory.memory_bytes),
    )


def _settings(kind: type[SourceLimits] | type[PrepareLimits]) -> Any:
    try:
        return kind.from_env()
    except ValidationError as e:
        raise SpecError(f"{kind.ENV_PREFIX}*: {describe_validation_error(e, root='limits')}") from e


def _train(args: argparse.Namespace) -> BaseModel:
    # Before anything else that is heavy: skops, imported to save the model, builds its default
    # trust list by finding the module of every scipy ufunc in `sys.modules`, in import order.
    # With scipy.special among the first modules that scan is short (~0.3 s of CPU less a Job).
    import scipy.special  # noqa: F401

    from modelops.trainer.train import run_train

    job = train_args(args)
    return run_train(
        name=job.name,
        store=_store(job, args.s3_endpoint),
        spec=job.spec,
        n_jobs=args.n_jobs,
        signing_key=job.signing_key,
        tuning_shards=job.tuning_shards,
    )


def _tune(args: argparse.Namespace) -> BaseModel:
    from modelops.trainer.train import run_tune

    job = tune_args(args)
    shard = shard_index(args)
    return run_tune(
        name=job.name,
        store=_store(job, args.s3_endpoint),
        spec=job.spec,
        shard=shard,
        shards=job.shards,
        n_jobs=args.n_jobs,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m modelops.trainer", description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--name", required=True, help="the CR's name: <namespace>/datasets/<name> or .../models/<name>"
        )
        sub.add_argument("--namespace", default="default", help="the CR's namespace: its own prefix in the store")
        sub.add_argument("--store", required=True, help="artifact store root: file://, pvc:// or s3://bucket/prefix")
        sub.add_argument("--spec-json", help="the CR's .spec as JSON")
        sub.add_argument("--spec-file", help="a file holding the .spec as JSON")
        sub.add_argument("--s3-endpoint", help="S3 endpoint URL (default: AWS_ENDPOINT_URL / S3_ENDPOINT_URL)")
        sub.add_argument(
            "--termination-message-path",
            help="where to write the result (default: $TERMINATION_MESSAGE_PATH, else /dev/termination-log "
            "when it exists)",
        )
        sub.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    prepare = commands.add_parser("prepare", help="ingest, clean, check and version a dataset")
    common(prepare)
    prepare.add_argument("--builtin", help="shortcut for source.builtin.name")
    prepare.add_argument("--url", help="shortcut for source.url")
    prepare.add_argument("--source-file", help="read this CSV/Parquet file whatever the spec's source says")
    prepare.add_argument("--source-dir", help="where configMap sources are mounted ($MODELOPS_SOURCE_DIR)")
    prepare.add_argument("--pvc-root", help="where claims are mounted, one directory each ($MODELOPS_PVC_ROOT)")
    prepare.add_argument("--target", help="shortcut for target")
    prepare.set_defaults(handler=_prepare)

    def training(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--dataset", required=True, help="NAME or NAME@VERSION (default: latest complete)")
        sub.add_argument("--algorithm", help="shortcut for model.algorithm")
        sub.add_argument("--task", choices=["classification", "regression", "clustering"])
        sub.add_argument("--seed", type=int, help="shortcut for split.seed")
        sub.add_argument("--n-jobs", type=int, default=None, help="parallel cross-validation fits")

    train = commands.add_parser("train", help="fit, tune, evaluate and save a model")
    common(train)
    training(train)
    train.add_argument(
        "--signing-key",
        help=f"PEM elliptic-curve private key that signs the model version (the operator mounts it under "
        f"{SIGNING_KEY_DIR}); without it the version is not signed",
    )
    train.add_argument(
        "--tuning-shards",
        type=_shards,
        help="the search's trials were scored by `tune` in this many shards: pick the best of their stored "
        "trials and refit it, instead of running the search",
    )
    train.set_defaults(handler=_train)

    tune = commands.add_parser("tune", help="score one shard of a hyperparameter search and store its trials")
    common(tune)
    training(tune)
    tune.add_argument("--shards", type=_shards, required=True, help="how many shards the candidates are dealt into")
    tune.add_argument(
        "--shard", type=int, help=f"which shard this is, from 0 (default: ${COMPLETION_INDEX_ENV}, an Indexed Job's)"
    )
    tune.set_defaults(handler=_tune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    termination_path: str | None = None
    try:
        args = build_parser().parse_args(argv)
        termination_path = args.termination_message_path
        logging.getLogger().setLevel(args.log_level)
        handler: Callable[[argparse.Namespace], BaseModel] = args.handler
        report(handler(args), path=termination_path)
        return EXIT_OK
    except Exception as error:
        code, reason = outcome_of(error)
        if code == EXIT_INTERNAL:
            traceback.print_exc(file=sys.stderr)
        log.error("%s: %s", reason, error)
        report({"error": str(error) or type(error).__name__, "reason": reason}, path=termination_path)
        return code
