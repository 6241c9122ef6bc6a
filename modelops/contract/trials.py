"""A hyperparameter search spread over the pods of an Indexed Job: who scores what, and what is stored.

With `spec.tuning.parallelism` above 1 the trials run as shards: shard `i` of `n` (the pod's
`JOB_COMPLETION_INDEX`) scores its share of the trainer's candidate list, dealt by `deal`. A
trial's cost follows its parameters (a forest of 500 trees costs about twice one of 250), so the
deal spreads every parameter's values evenly over the pods; slicing the list in blocks, or
round robin, would give one pod all of a costly value whenever the grid's order lines up with
the pods. Each shard stores a `TrialShard`; the final step reads all of them, picks the best and
refits. Shares are every n-th of the trials in size, so the operator counts progress from the
Job's completed indexes alone (`trials_done`).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

# Set by the Job controller in every container of an Indexed Job's pods.
COMPLETION_INDEX_ENV: Final = "JOB_COMPLETION_INDEX"


def share_size(shard: int, shards: int, total: int) -> int:
    """How many of `total` trials shard `shard` of `shards` scores: the first shards get one more."""
    return len(range(shard, total, shards))


def deal(candidates: Sequence[Mapping[str, Any]], shards: int) -> list[list[int]]:
    """The positions in `candidates` that each of `shards` shards scores, ascending.

    Greedy, in candidate order: each goes to the shard (with room left) that holds the fewest
    candidates sharing its parameter values, so every value ends up spread over the shards
    (for a grid, within one of even). The same list always gives the same deal.
    """
    total = len(candidates)
    room = [share_size(shard, shards, total) for shard in range(shards)]
    held: list[Counter[tuple[str, str]]] = [Counter() for _ in range(shards)]
    dealt: list[list[int]] = [[] for _ in range(shards)]
    for position, candidate in enumerate(candidates):
        values = [(name, json.dumps(value, sort_keys=True)) for name, value in candidate.items()]
        open_shards = [shard for shard in range(shards) if len(dealt[shard]) < room[shard]]
        shard = min(open_shards, key=lambda s: (sum(held[s][v] for v in values), len(dealt[s]), s))
        dealt[shard].append(position)
        held[shard].update(values)
    return dealt


def trials_done(completed: frozenset[int], shards: int, total: int) -> int:
    """How many trials the completed shards scored."""
    return sum(share_size(shard, shards, total) for shard in completed if 0 <= shard < shards)


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
