"""How `prepare` shares its memory setting (`PrepareLimits.memory_bytes`) between its parts.

Each part works on a bounded amount at a time — a batch of rows, one column's values for an exact
statistic, a partition of the row fingerprints — sized from what the setting leaves above the
interpreter and its libraries. The bytes per unit are measured (bench/training: peak resident
memory against the setting), with room for the allocator's own slack.
"""

from __future__ import annotations

from dataclasses import dataclass

# The interpreter, pandas, pyarrow, scikit-learn and matplotlib, before any data.
BASELINE_BYTES = 300 * 1024**2
# A batch costs this much per value at its peak: parsed, in its table-wide type, cleaned, hashed
# and encoded as Parquet, with the previous batch not yet returned to the system.
BATCH_BYTES_PER_CELL = 96
# One column's values gathered for an exact statistic: the values, their sort keys, a sorted copy.
GATHER_BYTES_PER_VALUE = 40
# Row fingerprints sorted to find duplicates: two hashes, the row number, the sort's index.
DEDUP_BYTES_PER_ROW = 64
# A distinct category counted: the text and its count in a Python dict.
CATEGORY_BYTES = 200
# The per-unit costs above are measured means; the 10M-row bench peaked 15% over what they
# predicted (allocator fragmentation, pyarrow's pools), so the parts share this much of the rest.
WORKING_SHARE = 0.8


@dataclass(frozen=True)
class Budget:
    """How much each part of `prepare` holds at once."""

    batch_cells: int  # values (rows x columns) in one batch
    gather_values: int  # values of one column held to compute an exact statistic
    dedup_rows: int  # row fingerprints sorted at once
    categories: int  # distinct values counted at once, over every text column

    @classmethod
    def of(cls, memory_bytes: int) -> Budget:
        """The shares of `memory_bytes` of resident memory, the libraries' baseline set aside."""
        working = max(int((memory_bytes - BASELINE_BYTES) * WORKING_SHARE), 64 * 1024**2)
        return cls(
            batch_cells=max(1, working // BATCH_BYTES_PER_CELL),
            gather_values=max(1, working // GATHER_BYTES_PER_VALUE),
            dedup_rows=max(1, working // DEDUP_BYTES_PER_ROW),
            categories=max(1, working // 2 // CATEGORY_BYTES),
        )
