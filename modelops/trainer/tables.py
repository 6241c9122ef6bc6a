"""Parse a source file (CSV or Parquet) into a DataFrame within the operator's limits.

The shape is checked before the data is parsed: the file's size, then its column count (a
Parquet footer says it; a CSV's header line is scanned, a few KiB at a time, and never held whole),
then rows while parsing, chunk by chunk. A file of 100k columns costs a header scan, not gigabytes.
Errors name the file, the limit and the setting; never a value from the file: the message reaches
the Dataset's status, and the file may be anything a path or a URL can point at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from modelops.api.dataset import FileFormat
from modelops.contract.jobs import SOURCE_ENV_PREFIX, SourceLimits
from modelops.trainer.errors import SourceError

# Cells per parsed CSV chunk: the tokenizer's buffers cost about three times the chunk, so a wide
# file gets proportionally fewer rows per chunk (see bench/training).
CSV_CHUNK_CELLS = 4_000_000
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


def _read_csv(path: Path, where: str, limits: SourceLimits) -> pd.DataFrame:
    columns = csv_columns(path, where, limits.max_columns)
    chunks: list[pd.DataFrame] = []
    rows = 0
    with pd.read_csv(path, chunksize=max(1, CSV_CHUNK_CELLS // columns)) as reader:
        for chunk in reader:
            rows += len(chunk)
            if rows > limits.max_rows:
                raise over_limit(where, f"more than {limits.max_rows} rows", "MAX_ROWS")
            chunks.append(chunk)
    if len(chunks) == 1:
        return chunks[0]
    frame = pd.concat(chunks, ignore_index=True)
    del chunks
    return frame


def _read_parquet(path: Path, where: str, limits: SourceLimits) -> pd.DataFrame:
    import pyarrow.parquet as pq

    metadata = pq.read_metadata(path)  # the footer alone
    if metadata.num_columns > limits.max_columns:
        raise over_limit(where, f"{metadata.num_columns} columns, more than {limits.max_columns}", "MAX_COLUMNS")
    if metadata.num_rows > limits.max_rows:
        raise over_limit(where, f"{metadata.num_rows} rows, more than {limits.max_rows}", "MAX_ROWS")
    return pd.read_parquet(path)


def read_table(path: Path, fmt: FileFormat, where: str, limits: SourceLimits) -> pd.DataFrame:
    """The file's rows; `where` names the source in errors (the spec's words, never the file's)."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise SourceError(f"cannot read source {where} ({type(e).__name__})") from e
    if size > limits.max_bytes:
        raise over_limit(where, f"{size} bytes, more than {limits.max_bytes}", "MAX_BYTES")
    try:
        return _read_parquet(path, where, limits) if fmt == "parquet" else _read_csv(path, where, limits)
    except SourceError:
        raise
    except (ValueError, UnicodeDecodeError, OSError) as e:
        # pandas' ParserError/EmptyDataError and pyarrow's ArrowInvalid are ValueErrors; pyarrow
        # reports a corrupt Parquet file as an OSError.
        raise _parse_error(where, fmt, e) from e
