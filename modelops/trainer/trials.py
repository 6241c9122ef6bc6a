"""Where the shards of a search keep their trials in the store, and how the final step gathers them.

`<namespace>/trials/<name>/<search>/<shard>-of-<shards>/trials.json`, each shard written as a
version (complete only with its marker, so a half-written shard is never read). `<search>` is a
hash of everything the scores depend on, so a changed spec or dataset never meets old trials,
and a shard that runs again (a retried pod, a Job made again) finds its trials instead of
scoring them twice. They stay after training: the record of what every candidate scored.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from modelops.artifacts.store import ArtifactStore
from modelops.contract.trials import Trial, TrialShard
from modelops.trainer.errors import BadInputError

TRIALS_FILE = "trials.json"


def shard_reldir(name: str, search: str, shard: int, shards: int) -> str:
    return f"trials/{name}/{search}/{shard}-of-{shards}"


def read_shard(store: ArtifactStore, name: str, search: str, shard: int, shards: int) -> TrialShard | None:
    """The stored shard, or None when it was never completed."""
    reldir = shard_reldir(name, search, shard, shards)
    if not store.is_complete(reldir):
        return None
    raw = store.read_bytes(posixpath.join(reldir, TRIALS_FILE))
    try:
        return TrialShard.model_validate_json(raw)
    except ValidationError as e:
        raise BadInputError(f"{store.uri(reldir)}/{TRIALS_FILE} is not a shard of trials: {e}") from e


def write_shard(store: ArtifactStore, name: str, shard: TrialShard) -> None:
    reldir = shard_reldir(name, shard.search, shard.shard, shard.shards)
    store.write_version(reldir, {TRIALS_FILE: shard.model_dump_json(indent=1).encode()})


def gather(
    store: ArtifactStore, name: str, search: str, shards: int, candidates: Sequence[dict[str, Any]]
) -> list[Trial]:
    """Every trial of the search, from its `shards` stored shards; each candidate exactly once.

    Refuses (bad input: running again finds the same store) when a shard is missing or holds
    trials that are not the candidates this search computed: the pods ran other code or spec.
    """
    missing: list[int] = []
    trials: list[Trial] = []
    for index in range(shards):
        stored = read_shard(store, name, search, index, shards)
        if stored is None:
            missing.append(index)
        else:
            trials.extend(stored.trials)
    where = store.uri(f"trials/{name}/{search}")
    if missing:
        raise BadInputError(
            f"--tuning-shards: shard(s) {missing} of {shards} have no stored trials in {where} (did the tune Job run?)"
        )
    positions = sorted(trial.position for trial in trials)
    if positions != list(range(len(candidates))):
        raise BadInputError(
            f"--tuning-shards: the shards in {where} hold trials at {len(positions)} positions, "
            f"not each of the {len(candidates)} candidates once"
        )
    strangers = [trial.position for trial in trials if trial.parameters != candidates[trial.position]]
    if strangers:
        raise BadInputError(
            f"--tuning-shards: the trials stored in {where} at positions {sorted(strangers)[:10]} "
            "are not this search's candidates"
        )
    return sorted(trials, key=lambda trial: trial.position)
