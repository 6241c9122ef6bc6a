"""Open Inference Protocol datatypes: their numpy types, value ranges, and raw little-endian layout.

One layout serves two transports: the binary tensor data extension of V2 REST and the gRPC
`raw_input_contents` / `raw_output_contents` fields carry a tensor the same way — its elements
little-endian, row-major, without padding; BOOL one byte (0 or 1); BYTES each element as a
4-byte little-endian unsigned length followed by its bytes.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from modelops.serving.errors import InvalidInputError

Array = npt.NDArray[Any]

NUMPY_TYPES: Final[dict[str, np.dtype[Any]]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
FLOAT_TYPES: Final = frozenset({"FP16", "FP32", "FP64"})
INT_TYPES: Final = frozenset({"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"})
# The inclusive range of each integer type: a JSON value outside it is not of that type.
INT_RANGES: Final[dict[str, tuple[int, int]]] = {
    name: (int(np.iinfo(NUMPY_TYPES[name]).min), int(np.iinfo(NUMPY_TYPES[name]).max)) for name in INT_TYPES
}
FLOAT_LIMITS: Final[dict[str, float]] = {name: float(np.finfo(NUMPY_TYPES[name]).max) for name in FLOAT_TYPES}
_LENGTH = struct.Struct("<I")


def element_count(shape: list[int]) -> int:
    count = 1
    for dimension in shape:
        count *= dimension
    return count


def decode_raw(name: str, datatype: str, shape: list[int], raw: bytes | memoryview) -> Array:
    """A flat array of the tensor's elements from its raw bytes; 422 when the size does not fit the shape."""
    count = element_count(shape)
    if datatype == "BYTES":
        return _decode_bytes(name, count, bytes(raw))
    dtype = NUMPY_TYPES[datatype]
    if len(raw) != count * dtype.itemsize:
        raise InvalidInputError(
            f"input {name!r} carries {len(raw)} bytes of binary data but its shape {shape} of {datatype} "
            f"needs {count * dtype.itemsize}"
        )
    if datatype == "BOOL":
        octets = np.frombuffer(raw, dtype=np.uint8)
        if octets.size and int(octets.max()) > 1:
            raise InvalidInputError(f"input {name!r} is BOOL but its binary data holds bytes other than 0 and 1")
        return octets.astype(np.bool_)
    return np.frombuffer(raw, dtype=dtype)


def _decode_bytes(name: str, count: int, raw: bytes) -> Array:
    out = np.empty(count, dtype=object)
    position = 0
    for index in range(count):
        if position + 4 > len(raw):
            raise InvalidInputError(
                f"input {name!r} is BYTES but its binary data ends before element {index} of {count}"
            )
        (length,) = _LENGTH.unpack_from(raw, position)
        position += 4
        if position + length > len(raw):
            raise InvalidInputError(
                f"input {name!r} is BYTES but element {index} claims {length} bytes past the end of its data"
            )
        out[index] = raw[position : position + length]
        position += length
    if position != len(raw):
        raise InvalidInputError(
            f"input {name!r} is BYTES with {count} elements but its binary data has {len(raw) - position} bytes more"
        )
    return out


def encode_raw(datatype: str, values: Array) -> bytes:
    """The raw bytes of an output tensor (values already of the datatype's kind)."""
    if datatype == "BYTES":
        parts: list[bytes] = []
        for value in values.ravel().tolist():
            encoded = value if isinstance(value, bytes) else str(value).encode()
            parts.append(_LENGTH.pack(len(encoded)))
            parts.append(encoded)
        return b"".join(parts)
    return np.ascontiguousarray(values, dtype=NUMPY_TYPES[datatype]).tobytes()
