"""One input tensor's data as checked values: its declared datatype and shape hold, or a 422 names the input.

A tensor's `data` is what the transport gave: JSON values (flat, or nested exactly to the
shape) or a flat typed array decoded from binary data or gRPC contents. Both come out the same
way: numeric tensors as a flat float64 array (missing: NaN), BYTES tensors as flat cells.

Missing values have one set of spellings on every route: JSON `null`, `NaN` (the JSON literal,
or a float NaN in binary data and gRPC contents) and, in a BYTES element, the empty string.
Infinity is never a value; neither is a number its datatype cannot hold (an INT8 of 300, a
UINT8 of -5, an FP32 of 1e39).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from modelops.serving.datatypes import FLOAT_LIMITS, INT_RANGES, INT_TYPES, element_count
from modelops.serving.errors import InvalidInputError

Array = npt.NDArray[Any]
_NUMERIC_KINDS = frozenset("fiu")
_INT_FLOAT = frozenset({int, float})


class TensorLike(Protocol):
    """What validation reads from an input tensor, whatever transport brought it."""

    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> list[int]: ...
    @property
    def datatype(self) -> str: ...
    @property
    def data(self) -> list[Any] | Array: ...


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_number(value: object) -> bool:
    # bool is an int subclass in Python; a JSON true is not a number.
    return type(value) is float or type(value) is int


def flat_cells(tensor: TensorLike) -> list[Any] | Array:
    """The tensor's elements, flat: JSON data flat or nested exactly to the shape; 422 otherwise."""
    return _flat(tensor)[0]


def _flat(tensor: TensorLike) -> tuple[list[Any] | Array, set[type]]:
    """The flat elements, and the set of their Python types (for JSON data; one scan serves both)."""
    data = tensor.data
    expected = element_count(tensor.shape)
    if isinstance(data, np.ndarray):
        if data.size != expected:
            raise InvalidInputError(
                f"input {tensor.name!r} holds {data.size} values but its shape {tensor.shape} needs {expected}"
            )
        return data.reshape(-1), set()
    types = set(map(type, data))
    if list in types:
        data = _unnest(tensor, data)
        types = set(map(type, data))
    if len(data) != expected:
        raise InvalidInputError(
            f"input {tensor.name!r} holds {len(data)} values but its shape {tensor.shape} needs {expected}"
        )
    return data, types


def _unnest(tensor: TensorLike, data: list[Any]) -> list[Any]:
    """Nested data, flattened after checking that every level has the length the shape gives it."""
    shape = tensor.shape
    mismatch = InvalidInputError(
        f"input {tensor.name!r}: its data is nested but not to its shape {shape}; send it flat or nested exactly"
    )
    if len(shape) < 2 or len(data) != shape[0]:
        raise mismatch
    level = data
    for dimension in shape[1:]:
        nested: list[Any] = []
        for item in level:
            if type(item) is not list or len(item) != dimension:
                raise mismatch
            nested.extend(item)
        level = nested
    if any(type(value) is list for value in level):
        raise mismatch
    return level


def numeric_values(tensor: TensorLike) -> Array:
    """A numeric tensor's elements as flat float64 (NaN where missing), checked against its datatype."""
    finite = finite_numbers(tensor)
    return finite if finite is not None else unusual_numeric_values(tensor)


def unusual_numeric_values(tensor: TensorLike) -> Array:
    """`numeric_values` for a tensor `finite_numbers` turned down: missing values, other datatypes, binary data."""
    datatype = tensor.datatype
    if datatype == "BYTES":
        raise InvalidInputError(f"input {tensor.name!r} is BYTES but the features it carries are numeric")
    cells, types = _flat(tensor)
    if isinstance(cells, np.ndarray) and cells.dtype != object:
        # Binary data or gRPC contents: already of the declared type, every value representable.
        return cells.astype(np.float64)
    # JSON true/false among numbers would be read by numpy as 1/0: those take the slow path.
    if bool not in types:
        array = np.asarray(cells)
        if array.dtype.kind in _NUMERIC_KINDS and array.ndim == 1:
            return _checked_numbers(tensor.name, datatype, array)
    return _numbers_one_by_one(tensor.name, datatype, cells)


def finite_numbers(tensor: TensorLike) -> Array | None:
    """The common JSON tensor (FP64, finite plain numbers, flat, as many as its shape needs) as float64; else None.

    None: something is unusual (missing values among them), and `numeric_values` finds and names it.
    """
    data = tensor.data
    if tensor.datatype != "FP64" or type(data) is not list or len(data) != element_count(tensor.shape):
        return None
    types = set(map(type, data))
    if not types <= _INT_FLOAT:
        return None
    try:
        # A finite sum: no NaN and no infinity, in one C loop over the list (a sum that overflows only
        # sends a valid tensor down the slow path).
        if not math.isfinite(sum(data)):
            return None
        return np.array(data, dtype=np.float64)
    except OverflowError:  # an integer beyond float64: the slow path names it
        return None


def _checked_numbers(name: str, datatype: str, array: Array) -> Array:
    if datatype == "BOOL":
        raise InvalidInputError(f"input {name!r} is BOOL but holds numbers")
    values = array.astype(np.float64, copy=False)
    if datatype == "FP64":
        return values
    if datatype in INT_TYPES:
        low, high = INT_RANGES[datatype]
        finite = values[np.isfinite(values)]
        if not np.all(finite == np.round(finite)):
            raise InvalidInputError(f"input {name!r} is {datatype} but holds non-integer numbers")
        if array.dtype.kind in "iu":
            outside = (array < low) | (array > high)
        else:
            outside = (values < low) | (values > high)
        if np.any(outside):
            position = int(np.flatnonzero(outside)[0])
            value = array[position].item()
            raise InvalidInputError(
                f"input {name!r} is {datatype} but value {position} ({value!r}) is outside [{low}, {high}]"
            )
        return values
    limit = FLOAT_LIMITS.get(datatype)
    if limit is not None:
        beyond = np.isfinite(values) & (np.abs(values) > limit)
        if np.any(beyond):
            position = int(np.flatnonzero(beyond)[0])
            raise InvalidInputError(
                f"input {name!r} is {datatype} but value {position} ({values[position].item()!r}) is beyond its range"
            )
    return values


def _numbers_one_by_one(name: str, datatype: str, cells: list[Any] | Array) -> Array:
    """The slow path, for mixed cells: check each so the message can name it."""
    out = np.empty(len(cells), dtype=np.float64)
    integer = datatype in INT_TYPES
    low, high = INT_RANGES.get(datatype, (0, 0))
    limit = FLOAT_LIMITS.get(datatype, math.inf)
    for position, value in enumerate(cells):
        if value is None:
            out[position] = math.nan
            continue
        if datatype == "BOOL":
            if type(value) is not bool:
                raise InvalidInputError(
                    f"input {name!r} is BOOL but value {position} is {type(value).__name__} {shown(value)}"
                )
            out[position] = float(value)
            continue
        if not is_number(value):
            raise InvalidInputError(
                f"input {name!r} is {datatype} but value {position} is {type(value).__name__} {shown(value)}"
            )
        if integer:
            if type(value) is float and not value.is_integer() and math.isfinite(value):
                raise InvalidInputError(f"input {name!r} is {datatype} but holds non-integer numbers")
            if math.isfinite(value) and not low <= value <= high:
                raise InvalidInputError(
                    f"input {name!r} is {datatype} but value {position} ({shown(value)}) is outside [{low}, {high}]"
                )
        out[position] = to_float(value, f"input {name!r} value {position}", limit=limit, datatype=datatype)
    return out


def to_float(value: int | float, where: str, *, limit: float = math.inf, datatype: str = "FP64") -> float:
    """A JSON number as a float; 422 when it is beyond what the datatype holds (a huge integer, 1e39 as FP32)."""
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInputError(f"{where} ({shown(value)}) is beyond the range of {datatype}") from None
    if math.isfinite(number) and abs(number) > limit:
        raise InvalidInputError(f"{where} ({shown(value)}) is beyond the range of {datatype}")
    return number


def text_cell(value: Any) -> str | None:
    """A BYTES element as text (None: missing), or ValueError when it is not text."""
    if value is None or value == "" or value == b"":
        return None
    if type(value) is str:
        return value
    if type(value) is bytes:
        return value.decode("utf-8")  # UnicodeDecodeError is a ValueError
    raise ValueError(value)


def number_cell(value: Any) -> float:
    """A cell for a numeric feature inside a BYTES tensor: a JSON number or its decimal text; NaN if missing."""
    if is_number(value):
        return float(value)
    text = text_cell(value)
    if text is None:
        return math.nan
    return float(text)
