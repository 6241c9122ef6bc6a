"""Duplicate rows across the whole data, found within bounded memory.

Every row gets a 128-bit fingerprint: two 64-bit combinations of the same per-column hashes
(pandas' `hash_pandas_object` of each column), the first as pandas combines them, the second
through a keyed mixer. The fingerprints go to a file in row order; they are then sorted a partition
at a time (rows whose first hash falls in the same range), and a row whose fingerprint an earlier
row has is a duplicate: the first occurrence stays, as `DataFrame.duplicated()` keeps it.

Exact up to a fingerprint collision. Two distinct rows are taken for one only when both 64-bit
combinations agree, a chance of about n**2 / 2**129 for n rows (1e-25 for ten million), or when two
distinct values of a column share their 64-bit hash and the rows agree everywhere else. The
former code confirmed each candidate pair by comparing the rows themselves, which needs both rows
at hand: across a file larger than memory, that is a random read per pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelops.trainer.spill import Spill
from modelops.trainer.versioning import column_hash, combine_hashes

_U64 = np.uint64
# splitmix64's finalizer: a bijection of 64-bit words that spreads every input bit.
_MIX = (_U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB))
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    words = words ^ (words >> _U64(30))
    words = words * _MIX[0]
    words = words ^ (words >> _U64(27))
    words = words * _MIX[1]
    return words ^ (words >> _U64(31))


def fingerprints(frame: pd.DataFrame) -> npt.NDArray[np.uint64]:
    """(rows, 2) fingerprints of the rows of `frame`: equal rows, equal fingerprints."""
    hashed = [column_hash(frame[name]) for name in frame.columns]
    second = np.zeros(len(frame), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for index, column in enumerate(hashed):
            # Each column keyed by its position, chained through the mixer.
            key = np.uint64((_GOLDEN * (index + 1)) & 0xFFFFFFFFFFFFFFFF)
            second = _mix(second ^ _mix(np.bitwise_xor(column, key, dtype=np.uint64)))
    return np.column_stack([combine_hashes(hashed, len(frame)), second])


def duplicate_rows(spill: Spill, path: Path, *, sort_rows: int) -> npt.NDArray[np.int64]:
    """Numbers (from 0, in row order) of the rows an earlier row repeats; `sort_rows` fingerprints sorted at once."""
    with path.open("wb") as out:
        for frame in spill.frames():
            fingerprints(frame).tofile(out)
    rows = spill.rows
    partitions = max(1, -(-rows // sort_rows))
    found: list[npt.NDArray[np.int64]] = []
    for partition in range(partitions):
        found.append(_duplicates_in(path, rows, partition, partitions, chunk=max(1, min(rows, sort_rows))))
    path.unlink()
    return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)


def _duplicates_in(path: Path, rows: int, partition: int, partitions: int, *, chunk: int) -> npt.NDArray[np.int64]:
    """The duplicates among the rows whose first hash falls in `partition` (of `partitions`)."""
    firsts, seconds, numbers = [], [], []
    with path.open("rb") as source:
        for start in range(0, rows, chunk):
            block = np.fromfile(source, dtype=np.uint64, count=2 * min(chunk, rows - start)).reshape(-1, 2)
            mine = block[:, 0] % _U64(partitions) == _U64(partition)
            firsts.append(block[mine, 0])
            seconds.append(block[mine, 1])
            numbers.append(np.flatnonzero(mine).astype(np.int64) + start)
    first, second, number = np.concatenate(firsts), np.concatenate(seconds), np.concatenate(numbers)
    del firsts, seconds, numbers
    order = np.lexsort((number, second, first))  # equal fingerprints together, earliest row first
    first, second, number = first[order], second[order], number[order]
    repeated = (first[1:] == first[:-1]) & (second[1:] == second[:-1])
    duplicates: npt.NDArray[np.int64] = number[1:][repeated]
    return duplicates
