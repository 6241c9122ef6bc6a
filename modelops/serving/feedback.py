"""Prediction ids, and live model quality from the ground truth clients send back for them.

A prediction id carries what was predicted and a signature:
`<version tag><instance>-<seq>-<prediction>-<mac>` (the prediction is the class index, the
cluster id, or the regressed value; the mac is keyed BLAKE2b of everything before it, under the
deployment's feedback key, 128 bits; BLAKE2's keyed mode is a MAC by design, and one call instead of
HMAC's two hash passes keeps ids cheap on the request path). So any replica of the deployment can score
feedback for a prediction another replica made, with no shared store, and nobody without the
key can make an id up: forged ids would otherwise feed the live metrics that drive rollbacks.
An id is accepted only exactly as issued (another spelling of the same number breaks the
signature), so the duplicate check cannot be dodged. The version tag lets a replica ignore
feedback for predictions of another model version (before a rollout) instead of mixing them
into this version's accuracy.

The key is the deployment's Secret (`MODELOPS_SERVING_FEEDBACK_KEY`); without one, each process
draws a random key and says so: feedback then only counts on the replica that predicted.

Live quality is computed over the last `window` labelled predictions, with
scikit-learn's metric functions, when asked (at scrape time).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import math
import secrets
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import SecretStr
from sklearn import metrics as skm

from modelops.artifacts.metadata import Task
from modelops.contract.serving import FEEDBACK_KEY_ENV
from modelops.serving.errors import InvalidInputError

log = logging.getLogger(__name__)

Label = str | int | float
MAX_FEEDBACK_ITEMS = 100_000
# Regression labels beyond this are refused: their squared errors would overflow the live RMSE.
MAX_REGRESSION_LABEL = 1e150
_MAC_BYTES = 16  # 128 bits
_MAC_HEX = 2 * _MAC_BYTES
_INT64 = 2**63


def feedback_key(secret: SecretStr | None) -> bytes:
    """The key prediction ids are signed with: the deployment's, or a random one for this process."""
    if secret is not None:
        return secret.get_secret_value().encode()
    log.warning(
        "%s is not set: prediction ids are signed with a random key of this process, so feedback is only "
        "accepted by the replica that made the prediction",
        FEEDBACK_KEY_ENV,
    )
    return secrets.token_bytes(32)


def version_tag(model_version: str) -> str:
    return hashlib.sha256(model_version.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Decoded:
    version_tag: str
    prediction: float  # class index, cluster id, or regressed value


class PredictionIds:
    """Issues and reads the self-describing prediction ids of one model version."""

    def __init__(self, model_version: str, task: Task, classes: Sequence[Label] | None, *, key: bytes) -> None:
        self.task = task
        self.version_tag = version_tag(model_version)
        # BLAKE2b takes keys of up to 64 bytes: a longer Secret is hashed to one (the same on every replica).
        self._keyed = hashlib.blake2b(
            key=key if len(key) <= hashlib.blake2b.MAX_KEY_SIZE else hashlib.blake2b(key).digest(),
            digest_size=_MAC_BYTES,
        )
        self._prefix = f"{self.version_tag}{secrets.token_hex(4)}-"
        self._sequence = itertools.count(1)
        self._class_index: dict[Any, int] = {c: i for i, c in enumerate(classes or ())}

    def _mac(self, body: str) -> str:
        # A copy of the keyed state: the key's block is hashed once, not once per id.
        state = self._keyed.copy()
        state.update(body.encode())
        return state.hexdigest()

    def issue(self, values: npt.NDArray[Any]) -> list[str]:
        """One signed id per predicted row."""
        prefix, sequence = self._prefix, self._sequence
        predicted = values.tolist()
        if self.task == "classification":
            index = self._class_index
            bodies = [f"{prefix}{next(sequence):x}-{index[v]}" for v in predicted]
        elif self.task == "clustering":
            bodies = [f"{prefix}{next(sequence):x}-{int(v)}" for v in predicted]
        else:
            bodies = [f"{prefix}{next(sequence):x}-{float(v)!r}" for v in predicted]
        mac = self._mac
        return [f"{body}-{mac(body)}" for body in bodies]

    def decode(self, prediction_id: str) -> Decoded:
        """Read an id back; raises `ValueError` when it is not one this deployment signed."""
        body, _, mac = prediction_id.rpartition("-")
        if len(mac) != _MAC_HEX or not hmac.compare_digest(mac, self._mac(body)):
            raise ValueError("not signed with this deployment's key")
        head, sequence, payload = body.split("-", 2)
        int(sequence, 16)
        if len(head) != 16:
            raise ValueError("bad prefix")
        value = float(payload)
        if not math.isfinite(value):
            raise ValueError("bad prediction")
        if self.task != "regression" and (not value.is_integer() or value < 0):
            raise ValueError("bad class")
        return Decoded(version_tag=head[:8], prediction=value)


@dataclass(frozen=True)
class FeedbackOutcome:
    accepted: int
    ignored: list[tuple[str, str]]  # (prediction id, reason)


class LiveQuality:
    """The last `window` (predicted, true) pairs of this model version, and metrics over them."""

    def __init__(self, ids: PredictionIds, classes: Sequence[Label] | None, *, window: int) -> None:
        self.ids = ids
        self.task = ids.task
        self.classes = list(classes or ())
        self._label_index: dict[Any, int] = {}
        for i, c in enumerate(self.classes):
            self._label_index.setdefault(c, i)
            # JSON clients often send "1" for class 1 (or 1 for class "1"): accept either spelling.
            self._label_index.setdefault(str(c), i)
        self._pairs: deque[tuple[float, float]] = deque(maxlen=window)
        # Ids already scored, so a retried feedback call does not count twice (bounded memory).
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_limit = max(4 * window, 10_000)

    @property
    def samples(self) -> int:
        return len(self._pairs)

    def _truth(self, prediction_id: str, label: Label) -> float:
        if type(label) is int and not -_INT64 <= label < _INT64:
            raise InvalidInputError(f"feedback for {prediction_id!r} has a label beyond 64-bit integers")
        if self.task == "classification":
            index = self._label_index.get(label)
            if index is None and not isinstance(label, str):
                index = self._label_index.get(str(label))
            if index is None:
                raise InvalidInputError(
                    f"feedback for {prediction_id!r} has label {label!r}, which is not one of the model's "
                    f"classes {self.classes[:20]}"
                )
            return float(index)
        value = float(label) if not isinstance(label, str) else math.nan
        if not math.isfinite(value) or abs(value) > MAX_REGRESSION_LABEL:
            raise InvalidInputError(
                f"feedback for {prediction_id!r} needs a finite number within ±{MAX_REGRESSION_LABEL:g}, got {label!r}"
            )
        return value

    def record(self, items: Iterable[tuple[str, Label]]) -> FeedbackOutcome:
        """Score feedback; all-or-nothing: a malformed item rejects the whole call (422)."""
        if self.task == "clustering":
            raise InvalidInputError("a clustering model has no ground truth to compare with")
        checked: list[tuple[str, float, float]] = []
        ignored: list[tuple[str, str]] = []
        for prediction_id, label in items:
            try:
                decoded = self.ids.decode(prediction_id)
            except ValueError:
                raise InvalidInputError(f"{prediction_id!r} is not a prediction id issued by this server") from None
            if decoded.version_tag != self.ids.version_tag:
                ignored.append((prediction_id, "made by another model version"))
                continue
            if self.task == "classification" and decoded.prediction >= len(self.classes):
                raise InvalidInputError(f"{prediction_id!r} is not a prediction id issued by this server")
            checked.append((prediction_id, decoded.prediction, self._truth(prediction_id, label)))
        accepted = 0
        for prediction_id, predicted, truth in checked:
            if prediction_id in self._seen:
                ignored.append((prediction_id, "feedback for this prediction was already received"))
                continue
            self._seen[prediction_id] = None
            if len(self._seen) > self._seen_limit:
                self._seen.popitem(last=False)
            self._pairs.append((predicted, truth))
            accepted += 1
        return FeedbackOutcome(accepted=accepted, ignored=ignored)

    def metrics(self) -> dict[str, float]:
        """accuracy and f1 (classification) or rmse and mae (regression) over the window."""
        snapshot = list(self._pairs)  # one C-level copy: the event loop may append meanwhile
        if not snapshot:
            return {}
        pairs = np.asarray(snapshot, dtype=np.float64)
        predicted, truth = pairs[:, 0], pairs[:, 1]
        if self.task == "classification":
            # Macro F1, as the trainer reports "f1" (its alias of f1_macro), so the two compare.
            return {
                "accuracy": float(skm.accuracy_score(truth, predicted)),
                "f1": float(
                    # Over the classes present in the window: an absent class has no F1 to average.
                    skm.f1_score(truth, predicted, average="macro", zero_division=0.0)
                ),
            }
        return {
            "rmse": float(skm.root_mean_squared_error(truth, predicted)),
            "mae": float(skm.mean_absolute_error(truth, predicted)),
        }
