"""A hyperparameter search spread over the pods of an Indexed Job: who scores what, and what is stored.

With `spec.tuning.parallelism` above 1 the trials run as shards: shard `i` of `n` (the pod's
`JOB_COMPLETION_INDEX`) scores the candidates at positions i, i+n, i+2n, ... of the trainer's
candidate list. Round robin rather than blocks, because neighbouring grid points tend to cost
alike (the last parameter varies fastest), so every pod gets a similar mix. Each shard stores a
`TrialShard`; the final step reads all of them, picks the best and refits. The operator counts
progress from the Job's completed indexes with the same `shard_positions`.
"""

from __future__ import annotations

import statistics
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

# Set by the Job controller in every container of an Indexed Job's pods.
COMPLETION_INDEX_ENV: Final = "JOB_COMPLETION_INDEX"


def shard_positions(shard: int, shards: int, total: int) -> range:
    """The positions in the candidate list (of `total`) that shard `shard` of `shards` scores."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not one of 0..{shards - 1}")
    return range(shard, total, shards)


def trials_done(completed: frozenset[int], shards: int, total: int) -> int:
    """How many trials the completed shards scored."""
    return sum(len(shard_positions(shard, shards, total)) for shard in completed if 0 <= shard < shards)


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Trial(_Shape):
    """One candidate's cross-validation."""

    position: int = Field(ge=0, description="the candidate's position in the search's candidate list")
    parameters: dict[str, Any]
    scores: list[float] = Field(min_length=1, description="one per fold, as the scorer gives it: greater is better")

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)


class TrialShard(_Shape):
    """What one shard stores: its trials, and which search they belong to."""

    search: str = Field(description="the search's identity: a hash of everything the scores depend on")
    shard: int = Field(ge=0)
    shards: int = Field(ge=1)
    total: int = Field(ge=1, description="trials of the whole search")
    trials: list[Trial]


class TuneResult(_Shape):
    """What a shard reports (termination message and stdout); under 4 KB whatever the search."""

    name: str
    search: str
    shard: int
    shards: int
    trials: int = Field(description="trials this shard scored")
    uri: str = Field(description="where its TrialShard is stored")
    reused: bool = Field(default=False, description="an earlier run of this shard had stored them already")
