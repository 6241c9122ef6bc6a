"""The ingested rows on local disk, batch by batch, read back column by column; row masks over them.

`prepare` reads its source once (a CSV is costly to parse) and everything else — duplicates,
statistics, the cleaned output — reads this spill instead, as many times as it needs, a few
columns at a time. Each batch is one Arrow IPC file (LZ4: about 60% of the raw size, and faster to
read back than to parse again) in the type its batch was parsed with; reading converts it to the
column's table-wide type (`modelops.trainer.columns`). Files are read, never memory-mapped: mapped
pages would count as the process's resident memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelops.trainer.columns import ColumnTypes, Dtype, conform, kind_of


class Spill:
    """Batches appended in row order; `frames` reads them back, in their table-wide types once `seal`ed."""

    def __init__(self, directory: Path, columns: Sequence[str]) -> None:
        self.directory = directory
        self.columns = list(columns)
        self.sizes: list[int] = []  # rows per batch
        self._types = ColumnTypes(self.columns)
        self.types: dict[str, Dtype] = {}

    @property
    def rows(self) -> int:
        return sum(self.sizes)

    def append(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.ipc as ipc

        frame = frame[self.columns]
        self._types.observe(frame)
        # Mixed Python objects (numbers and text in one batch) have no Arrow type: text, as the
        # whole table will have them anyway.
        for name in frame.columns:
            if frame[name].dtype == object:
                frame = frame.assign(**{name: frame[name].where(frame[name].isna(), frame[name].astype(str))})
        table = pa.Table.from_pandas(frame, preserve_index=False)
        options = ipc.IpcWriteOptions(compression="lz4")
        with ipc.new_file(str(self._path(len(self.sizes))), table.schema, options=options) as writer:
            writer.write_table(table)
        self.sizes.append(len(frame))

    def seal(self) -> dict[str, Dtype]:
        """Every batch is in: fix each column's type."""
        self.types = self._types.final()
        return self.types

    def frames(self, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """Each batch's `columns` (default: all), in their table-wide types."""
        import pyarrow as pa
        import pyarrow.ipc as ipc

        names = list(self.columns if columns is None else columns)
        options = ipc.IpcReadOptions(included_fields=[self.columns.index(n) for n in names])
        for index in range(len(self.sizes)):
            with pa.OSFile(str(self._path(index))) as source, ipc.open_file(source, options=options) as reader:
                table = reader.read_all()
            frame = table.to_pandas()
            del table
            yield conform(frame[names], self.types)

    def numeric(self, column: str) -> bool:
        return kind_of(self.types[column]) in ("int", "float")

    def _path(self, index: int) -> Path:
        return self.directory / f"batch-{index:06d}.arrow"


class RowMask:
    """One bit per row, kept per batch: which rows a stage of cleaning keeps."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.sizes = list(sizes)
        self.starts = np.cumsum([0, *self.sizes[:-1]], dtype=np.int64)
        self._bits = [np.packbits(np.ones(size, dtype=bool)) for size in self.sizes]

    def batch(self, index: int) -> npt.NDArray[np.bool_]:
        return np.unpackbits(self._bits[index], count=self.sizes[index]).astype(bool)

    def set_batch(self, index: int, keep: npt.NDArray[np.bool_]) -> None:
        self._bits[index] = np.packbits(keep)

    def drop_rows(self, rows: npt.NDArray[np.int64]) -> None:
        """Clear the bits of these rows (numbers counted from the first row of the first batch)."""
        batches = np.searchsorted(self.starts, rows, side="right") - 1
        for index in np.unique(batches):
            keep = self.batch(int(index))
            keep[rows[batches == index] - self.starts[index]] = False
            self.set_batch(int(index), keep)

    def count(self) -> int:
        return sum(int(self.batch(i).sum()) for i in range(len(self.sizes)))

    def copy(self) -> RowMask:
        other = RowMask([])
        other.sizes, other.starts, other._bits = list(self.sizes), self.starts.copy(), [b.copy() for b in self._bits]
        return other
