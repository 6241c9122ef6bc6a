"""An inference call whatever carried it: what V2 REST (JSON or binary) and gRPC decode to and encode from.

The service predicts from an `InferCall` and answers an `InferAnswer`; the transports only
translate. So validation, micro-batching, drift, metrics and prediction ids are the same
for every client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"


# Slotted, mutable dataclasses: built on every request, and built faster than a NamedTuple (whose
# constructor is a Python function) or a frozen dataclass (one object.__setattr__ per field).
@dataclass(slots=True)
class Tensor:
    """An input tensor: JSON values (flat or nested), or a flat typed array decoded from binary data."""

    name: str
    shape: list[int]
    datatype: str
    data: list[Any] | npt.NDArray[Any]


@dataclass(slots=True)
class InferCall:
    """The request: inputs, the outputs asked for (None: the default), and which come back as binary data."""

    id: str | None
    inputs: Sequence[Tensor]
    outputs: list[str] | None = None
    binary_outputs: bool = False  # the request-wide `binary_data_output` parameter
    binary: Mapping[str, bool] | None = None  # per-output `binary_data`, overriding it

    def wants_binary(self, output: str) -> bool:
        return self.binary.get(output, self.binary_outputs) if self.binary else self.binary_outputs


@dataclass(slots=True)
class OutputTensor:
    name: str
    datatype: str
    shape: list[int]
    values: npt.NDArray[Any]  # flat (row-major) values of the datatype's kind


@dataclass(slots=True)
class InferAnswer:
    model_name: str
    model_version: str
    id: str | None
    prediction_ids: list[str]
    outputs: list[OutputTensor]
