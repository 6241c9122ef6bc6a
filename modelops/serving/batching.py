"""Adaptive micro-batching: rows of concurrent requests share one model call.

A model call has a fixed cost (about 17 us for ONNX Runtime, far more for a
scikit-learn pipeline) that dwarfs the per-row cost of small models. Under
load, uvicorn hands over several requests in the same event-loop iteration.
The first becomes the batch's leader: it yields once, so the requests of that
iteration add their rows, then predicts them all in one call and hands each
its own rows back. No timer, no added wait beyond one loop iteration; an idle
server predicts a lone request at once after it. A batch that fails is retried
request by request, so one request's bad rows cannot fail its neighbours.

Every model the trainer makes predicts rows independently (trees, linear
models, neighbours, MLPs), so batching changes no label; floating-point kernels
may differ in the last bits of probabilities.

`on_batch` sees every predicted batch once (the drift window and the
per-class counters are fed there: one call per batch, not per request).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from modelops.serving.runtime import Matrix, Prediction, Runtime

BatchHook = Callable[[Matrix, Prediction], None]
# (rows, wants probabilities, where a follower waits; None for the leader)
_Entry = tuple[Matrix, bool, "asyncio.Future[Prediction] | None"]


def _ignore(matrix: Matrix, prediction: Prediction) -> None:
    return None


class MicroBatcher:
    """Collects the rows of one event-loop iteration into one `runtime.predict` call."""

    def __init__(
        self, runtime: Runtime, *, on_batch: BatchHook = _ignore, max_rows: int = 256, thread_rows: int = 64
    ) -> None:
        self.runtime = runtime
        self.on_batch = on_batch
        self.max_rows = max_rows  # a batch this big takes no more rows; the next request leads anew
        self.thread_rows = thread_rows  # a request over this many rows runs alone, in a worker thread
        self._batch: list[_Entry] | None = None
        self._rows = 0

    async def predict(self, matrix: Matrix, *, probabilities: bool) -> Prediction:
        rows = matrix.shape[0]
        if rows > self.thread_rows:
            # Big requests do not share: a worker thread keeps the event loop free meanwhile.
            prediction: Prediction = await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(self.runtime.predict, matrix, probabilities=probabilities)
            )
            self.on_batch(matrix, prediction)
            return prediction
        batch = self._batch
        if batch is not None:
            future: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
            batch.append((matrix, probabilities, future))
            self._rows += rows
            if self._rows >= self.max_rows:
                self._batch = None
            return await future
        batch = self._batch = [(matrix, probabilities, None)]
        self._rows = rows
        cancelled = False
        try:
            await asyncio.sleep(0)  # one loop iteration: the requests parsed in it join the batch
        except asyncio.CancelledError:
            cancelled = True  # still serve the followers, then give up
        if self._batch is batch:
            self._batch = None
        result = self._run(batch)
        if cancelled:
            raise asyncio.CancelledError
        return result

    def _run(self, batch: list[_Entry]) -> Prediction:
        """Predict the batch; settle the followers; return (or raise) the leader's own result."""
        if len(batch) == 1:
            prediction = self.runtime.predict(batch[0][0], probabilities=batch[0][1])
            self.on_batch(batch[0][0], prediction)
            return prediction
        matrix = np.concatenate([entry[0] for entry in batch])
        try:
            joined = self.runtime.predict(matrix, probabilities=any(entry[1] for entry in batch))
        except Exception:
            return self._one_by_one(batch)
        self.on_batch(matrix, joined)
        values, proba = joined.values, joined.probabilities
        start = 0
        leader: Prediction | None = None
        for rows, wants_proba, future in batch:
            end = start + rows.shape[0]
            own = Prediction(values[start:end], proba[start:end] if proba is not None and wants_proba else None)
            start = end
            if future is None:
                leader = own
            elif not future.cancelled():
                future.set_result(own)
        assert leader is not None
        return leader

    def _one_by_one(self, batch: list[_Entry]) -> Prediction:
        leader: Any = None
        for rows, wants_proba, future in batch:
            try:
                prediction = self.runtime.predict(rows, probabilities=wants_proba)
            except Exception as e:
                if future is None:
                    leader = e
                elif not future.cancelled():
                    future.set_exception(e)
                continue
            self.on_batch(rows, prediction)
            if future is None:
                leader = prediction
            elif not future.cancelled():
                future.set_result(prediction)
        if isinstance(leader, BaseException):
            raise leader
        result: Prediction = leader
        return result
