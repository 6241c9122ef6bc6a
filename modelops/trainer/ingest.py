"""The one read of a Dataset's source: the selected columns, PII handled, spilled to local disk.

PII is hashed here, batch by batch, before anything is written, the spill included; columns to
drop are not even parsed. What the gates need of the data as it arrived (missing values,
infinities) is counted on the way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from modelops.trainer.governance import hash_columns
from modelops.trainer.quality import infinite_counts
from modelops.trainer.sources import Table
from modelops.trainer.spill import Spill

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ingested:
    spill: Spill
    missing: dict[str, int]  # missing values per column, as ingested
    infinite: dict[str, int]  # +-inf values per float column


def ingest(
    table: Table, columns: Sequence[str], *, hashed: Sequence[str], key: bytes, cells: int, directory: Path
) -> Ingested:
    """Read `columns` of `table` in batches of about `cells` values into a spill in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    spill = Spill(directory, columns)
    missing = dict.fromkeys(columns, 0)
    infinite = dict.fromkeys(columns, 0)
    # PII columns are read as their text: what is hashed is what the file says, in every batch alike.
    for batch in table.batches(columns, text=hashed, cells=cells):
        batch = hash_columns(batch, hashed, key)
        for name, count in batch.isna().sum().items():
            missing[str(name)] += int(count)
        for name, count in infinite_counts(batch, columns).items():
            infinite[name] += count
        spill.append(batch)
    types = spill.seal()
    log.info("read %d rows in %d batches", spill.rows, len(spill.sizes))
    # Infinity is a float's: in a column that turns out to be text, "inf" is a word like any other.
    infinite = {name: n for name, n in infinite.items() if n and pd.api.types.is_float_dtype(types[name])}
    return Ingested(spill=spill, missing=missing, infinite=infinite)
