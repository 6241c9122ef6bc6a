"""Parse a source file (CSV or Parquet) batch by batch within the operator's limits.

The shape is checked before the data is parsed: the file's size, then its column count (a
Parquet footer says it; a CSV's header line is scanned, a few KiB at a time, and never held whole),
then rows while parsing, batch by batch. A file of 100k columns costs a header scan, not gigabytes,
and a file of any length costs one batch of memory at a time.
Errors name the file, the limit and the setting; never a value from the file: the message reaches
the Dataset's status, and the file may be anything a path or a URL can point at.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from modelops.api.dataset import FileFormat
from modelops.contract.jobs import SOURCE_ENV_PREFIX, SourceLimits
from modelops.trainer.errors import SourceError

_SCAN_BYTES = 1 << 16
_LINE = re.compile(r"line (\d+)")


def format_of(location: str, given: FileFormat | None) -> FileFormat:
    if given is not None:
        return given
    lowered = location.lower().split("?", 1)[0]
    return "parquet" if lowered.endswith((".parquet", ".pq")) else "csv"


def _line_end(chunk: bytes) -> int:
    """Where the first line of an unquoted chunk ends (\n, or \r alone as old Macs wrote), or -1."""
    ends = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
    return min(ends) if ends else -1


def csv_columns(path: Path, where: str, limit: int) -> int:
    """The number of fields in the CSV header; refused as soon as the count passes `limit`."""
    count, quoted = 1, False
    with path.open("rb") as file:
        while chunk := file.read(_SCAN_BYTES):
            if not quoted and b'"' not in chunk:
                end = _line_end(chunk)
                count += chunk.count(b",", 0, end if end >= 0 else len(chunk))
            else:
                end = -1
                for i, byte in enumerate(chunk):
                    if byte == 0x22:  # '"': a doubled quote inside a field toggles twice
                        quoted = not quoted
                    elif not quoted and byte == 0x2C:  # ','
                        count += 1
                    elif not quoted and byte in (0x0A, 0x0D):  # '\n', '\r'
                        end = i
                        break
            if end >= 0 or count > limit:
                break
    if count > limit:
        raise over_limit(where, f"more than {limit} columns", "MAX_COLUMNS")
    return count


def over_limit(where: str, what: str, setting: str) -> SourceError:
    """A source refused by one of the `SourceLimits`, naming the setting that would allow it."""
    return SourceError(f"source {where} has {what} ({SOURCE_ENV_PREFIX}{setting})")


def _parse_error(where: str, fmt: FileFormat, e: BaseException) -> SourceError:
    """What went wrong, without the parser's own words: they may quote the file."""
    at = _LINE.search(str(e))
    detail = type(e).__name__ + (f" at line {at.group(1)}" if at else "")
    return SourceError(f"source {where} is not valid {fmt.upper()} ({detail})")


@dataclass(frozen=True)
class TableFile:
    """A source file checked against the limits, ready to be read batch by batch."""

    path: Path
    format: FileFormat
    where: str  # names the source in errors: the spec's words, never the file's
    limits: SourceLimits

    def column_names(self) -> list[str]:
        """The columns in the file's order (a CSV's repeated names get pandas' suffixes: a, a.1).

        Refuses a file wider, or a Parquet file longer, than the limits before parsing anything.
        """
        with _parsing(self):
            if self.format == "parquet":
                import pyarrow.parquet as pq

                metadata = pq.read_metadata(self.path)  # the footer alone
                if metadata.num_columns > self.limits.max_columns:
                    what = f"{metadata.num_columns} columns, more than {self.limits.max_columns}"
                    raise over_limit(self.where, what, "MAX_COLUMNS")
                if metadata.num_rows > self.limits.max_rows:
                    what = f"{metadata.num_rows} rows, more than {self.limits.max_rows}"
                    raise over_limit(self.where, what, "MAX_ROWS")
                return [str(name) for name in metadata.schema.to_arrow_schema().names]
            csv_columns(self.path, self.where, self.limits.max_columns)
            return [str(name) for name in pd.read_csv(self.path, nrows=0).columns]

    def batches(self, columns: Sequence[str], *, text: Collection[str], cells: int) -> Iterator[pd.DataFrame]:
        """`columns` (checked by `column_names`) in batches of about `cells` values; the `text` columns
        as their text, never as numbers."""
        with _parsing(self):
            if self.format == "parquet":
                yield from self._parquet(columns, text, cells)
            else:
                yield from self._csv(columns, text, cells)

    def _csv(self, columns: Sequence[str], text: Collection[str], cells: int) -> Iterator[pd.DataFrame]:
        # The tokenizer splits every field of a line: the batch is sized by the file's width.
        width = csv_columns(self.path, self.where, self.limits.max_columns)
        rows = 0
        dtype = dict.fromkeys(text, str)
        # Every column is parsed, read or not (no `usecols`): with it, pandas lets a line with too many
        # fields through instead of refusing the file.
        with pd.read_csv(self.path, dtype=dtype, chunksize=max(1, cells // width)) as reader:
            for batch in reader:
                rows += len(batch)
                if rows > self.limits.max_rows:
                    raise over_limit(self.where, f"more than {self.limits.max_rows} rows", "MAX_ROWS")
                yield batch[list(columns)]

    def _parquet(self, columns: Sequence[str], text: Collection[str], cells: int) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        size = max(1, cells // max(1, len(columns)))
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=size, columns=list(columns)):
            arrays = []
            for name, array in zip(batch.schema.names, batch.columns, strict=True):
                if pa.types.is_dictionary(array.type):
                    # Decoded: each batch of a dictionary column has its own categories.
                    array = array.dictionary_decode()
                arrays.append(array.cast(pa.string()) if name in text else array)
            yield pa.RecordBatch.from_arrays(arrays, names=batch.schema.names).to_pandas()


@contextlib.contextmanager
def _parsing(table: TableFile) -> Iterator[None]:
    """Turns the parsers' errors into SourceErrors that never quote the file."""
    try:
        yield
    except SourceError:
        raise
    except (ValueError, UnicodeDecodeError, OSError) as e:
        # pandas' ParserError/EmptyDataError and pyarrow's ArrowInvalid are ValueErrors; pyarrow
        # reports a corrupt Parquet file as an OSError.
        raise _parse_error(table.where, table.format, e) from e


def open_table(path: Path, fmt: FileFormat, where: str, limits: SourceLimits) -> TableFile:
    """The file at `path`, refused when it is larger than the limits allow."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise SourceError(f"cannot read source {where} ({type(e).__name__})") from e
    if size > limits.max_bytes:
        raise over_limit(where, f"{size} bytes, more than {limits.max_bytes}", "MAX_BYTES")
    return TableFile(path, fmt, where, limits)
