"""The type each column gets in a table read batch by batch.

A CSV parsed in batches types every batch on its own: an integer column with a missing value in
its tenth batch is int64 in the first nine and float64 in the tenth; a column of numbers with one
word in it is text in one batch only. The whole table gets one type per column, the one pandas
gives when it concatenates the batches, then normalised as the profile, the pipeline and ONNX need
it (every column numeric or text): integers with a missing value anywhere become float64, booleans
become 0/1 integers (text "True"/"False" when some are missing), and a column whose batches mix
numbers, booleans or other kinds with text becomes text, each value written as Python writes it.
Text stays in pandas' "str" dtype when every batch had it, else in "object" (as concatenating
mixed batches leaves it): the dtype's name is part of a dataset's version. A batch holding nothing
but missing values says nothing about its column's type.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionDtype

Dtype = np.dtype[Any] | ExtensionDtype
TEXT: Dtype = pd.StringDtype(na_value=np.nan)  # pandas' default "str" dtype
OBJECT: Dtype = np.dtype(object)


def kind_of(dtype: Dtype | str) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_string_dtype(dtype) or dtype == OBJECT:
        return "text"
    return "other"


def as_text(column: pd.Series, dtype: Dtype = TEXT) -> pd.Series:
    """Each present value as Python writes it, in `dtype` (TEXT or OBJECT); missing stays missing."""
    if column.dtype == dtype:
        return column
    text: pd.Series = column.where(column.isna(), column.astype(str)).astype(dtype)
    return text


@dataclass
class _Seen:
    dtypes: dict[str, Dtype] = field(default_factory=dict)  # of batches holding a value, by name
    kinds: set[str] = field(default_factory=set)
    empty_dtypes: set[str] = field(default_factory=set)  # of batches holding none
    missing: bool = False


class ColumnTypes:
    """Watches the batches go by, then tells each column's type in the whole table."""

    def __init__(self, columns: Iterable[str]) -> None:
        self._seen = {name: _Seen() for name in columns}

    def observe(self, frame: pd.DataFrame) -> None:
        for name, seen in self._seen.items():
            column = frame[name]
            missing = int(column.isna().sum())
            seen.missing |= missing > 0
            if missing == len(column):
                seen.empty_dtypes.add(str(column.dtype))
            else:
                seen.dtypes[str(column.dtype)] = column.dtype
                seen.kinds.add(kind_of(column.dtype))

    def final(self) -> dict[str, Dtype]:
        return {name: _final(seen) for name, seen in self._seen.items()}


def _final(seen: _Seen) -> Dtype:
    kinds = seen.kinds
    if not kinds:
        # Nothing but missing values: a float column (what pandas makes of an empty CSV column), or text.
        if all(kind_of(d) == "float" for d in seen.empty_dtypes):
            return np.dtype(np.float64)
        return OBJECT if "object" in seen.empty_dtypes else TEXT
    if kinds == {"bool"}:
        return OBJECT if seen.missing else np.dtype(np.int64)
    if kinds == {"int"} and not seen.missing:
        return _only(seen, np.dtype(np.int64))
    if kinds == {"float"}:
        return _only(seen, np.dtype(np.float64))
    if kinds <= {"int", "float"}:
        return np.dtype(np.float64)
    if kinds == {"other"}:
        return _only(seen, OBJECT)
    if kinds == {"text"} and "object" not in seen.dtypes:
        return TEXT
    return OBJECT


def _only(seen: _Seen, otherwise: Dtype) -> Dtype:
    """The one dtype every batch holding a value had, if they agree (a dtype's truth value is its length)."""
    return next(iter(seen.dtypes.values())) if len(seen.dtypes) == 1 else otherwise


def conform(frame: pd.DataFrame, types: dict[str, Dtype]) -> pd.DataFrame:
    """`frame` (one batch) with each column in its table-wide type."""
    out = {}
    for name in frame.columns:
        column, final = frame[name], types[name]
        if column.dtype == final:
            out[name] = column
        elif final in (TEXT, OBJECT):
            out[name] = as_text(column, final)
        else:
            out[name] = column.astype(final)
    return pd.DataFrame(out, index=frame.index)
