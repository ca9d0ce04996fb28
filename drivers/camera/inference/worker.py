"""The worker thread of one shared model: takes queued frames of all cameras, runs them as batches.

Batching costs a camera no waiting by default: requests made in the same event-loop iteration are
handed over together, and whatever queued up while the previous batch ran is taken as the next batch
(up to ``max_batch``). Only when the previous batch held several frames (cameras are arriving together)
and the frame came in less than ``batch_window_ms`` after that batch was answered (the cameras keep
the model busy, so a fuller batch is worth a short wait) does the worker wait up to ``batch_window_ms``
for the other cameras' frames. A worker that sat idle longer has capacity to spare: it runs the frame
at once instead of waiting for a camera that stopped sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2

from agent.errors import EdgepostError
from agent.logs import RateLimiter, log_limited
from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.detection import Detection
from drivers.camera.inference.errors import InferenceFailed, PoolClosed
from drivers.camera.inference.postprocess import DecodeParams
from drivers.camera.inference.preprocess import InputBatch
from drivers.camera.inference.runner import ModelRunner

logger = logging.getLogger(__name__)
_limiter = RateLimiter(60.0)
# What a bug in decode/preprocess may raise; turned into InferenceFailed so no caller hangs.
_WORKER_ERRORS = (EdgepostError, ArithmeticError, LookupError, ValueError, TypeError, MemoryError, cv2.error)


@dataclass
class Request:
    frame: Any
    params: Callable[[ModelRunner], DecodeParams]  # per camera; recomputed if the model is swapped
    future: asyncio.Future[list[Detection]]
    loop: asyncio.AbstractEventLoop


@dataclass
class WorkerStats:
    batches: int = 0
    frames: int = 0
    errors: int = 0
    busy_s: float = 0.0


class ModelWorker:
    """One model session (``runner``, swappable between batches) and its worker thread."""

    def __init__(self, config: InferenceConfig, runner: ModelRunner) -> None:
        self.config = config
        self.runner = runner
        self.clients = 0
        self.stats = WorkerStats()
        self._pending: list[Request] = []  # loop side: requests of this loop iteration
        self._flush_scheduled = False
        # SimpleQueue: a C lock per put/get, no Condition; the hand-over costs a few us instead of tens
        self._queue: queue.SimpleQueue[list[Request] | None] = queue.SimpleQueue()
        self._scratch = InputBatch()  # the worker thread's reusable input tensor
        self._backlog: deque[Request] = deque()  # worker side
        self._last_batch = 1
        self._answered_at = 0.0  # time.monotonic() when the last batch was answered
        self._stopped = False
        self._thread = threading.Thread(target=self._work, name=f"inference[{runner.name}]", daemon=True)
        self._thread.start()

    def submit(self, request: Request) -> None:
        """Called on the event loop; the hand-over to the thread happens once per loop iteration.

        A model used by one camera only has nothing to batch: its frame is handed over at once.
        """
        if self.clients <= 1 and not self._pending and not self._stopped:
            self._queue.put([request])
            return
        self._pending.append(request)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            request.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        if self._stopped:
            for request in pending:
                deliver(request, PoolClosed("session pool closed"))
        elif pending:
            self._queue.put(pending)

    def stop(self) -> None:
        """Blocking: finish what was handed over, fail anything submitted later with ``PoolClosed``."""
        self._flush()
        self._stopped = True
        self._queue.put(None)
        self._thread.join()
        leftovers = list(self._backlog)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            leftovers.extend(item or [])
        for request in leftovers:
            deliver(request, PoolClosed("session pool closed"))

    def _take(self, timeout: float | None) -> bool:
        """Move one queued hand-over into the backlog; False on the stop sentinel. Raises queue.Empty."""
        item = self._queue.get(timeout=timeout) if timeout is None or timeout > 0 else self._queue.get_nowait()
        if item is None:
            return False
        self._backlog.extend(item)
        return True

    def _collect(self) -> tuple[list[Request], bool]:
        limit = self.config.max_batch if self.runner.batch_dynamic else 1
        window_s = self.config.batch_window_ms / 1000.0
        now = time.monotonic()
        want = batch_target(limit, self.clients, self._last_batch, now - self._answered_at, window_s)
        running = True
        if len(self._backlog) < want:
            deadline = now + window_s
            with contextlib.suppress(queue.Empty):
                while running and len(self._backlog) < want:
                    running = self._take(max(0.0, deadline - time.monotonic()))
        while running and len(self._backlog) < limit and not self._queue.empty():
            running = self._take(0.0)  # whatever else is already queued (never raises: one consumer)
        count = min(limit, len(self._backlog))
        return [self._backlog.popleft() for _ in range(count)], running

    def _work(self) -> None:
        running = True
        while running or self._backlog:
            if not self._backlog and (not running or not self._take(None)):
                return
            batch, still_running = self._collect()
            running = running and still_running
            if batch:
                self._last_batch = len(batch)
                self._run(batch)

    def _run(self, batch: list[Request]) -> None:
        runner = self.runner  # read once: an update may swap it between batches
        started = time.monotonic()
        try:
            params = [r.params(runner) for r in batch]
            results = runner.infer([r.frame for r in batch], params, self._scratch)
        except _WORKER_ERRORS as exc:
            self.stats.errors += 1
            error = exc if isinstance(exc, EdgepostError) else InferenceFailed(f"model {runner.name}: {exc!r}")
            key = f"infer:{runner.name}"
            log_limited(_limiter, logger, key, "inference_failed", model=runner.name, error=str(error))
            self._answered_at = time.monotonic()
            deliver_all(batch, [error] * len(batch))
            return
        # bookkeeping first: the hand-back wakes the loop, which then wants the GIL this thread holds
        # until it blocks on the queue again, so nothing should run between the two
        self.stats.batches += 1
        self.stats.frames += len(batch)
        self._answered_at = now = time.monotonic()
        self.stats.busy_s += now - started
        if len(batch) == 1:
            deliver(batch[0], results[0])
        else:
            deliver_all(batch, results)


def batch_target(limit: int, clients: int, last_batch: int, idle_s: float, window_s: float) -> int:
    """How many frames to wait for (up to the window) before running: the other cameras' frames only
    while they arrive together (last batch > 1) and keep the model busy (idle no longer than the window)."""
    if last_batch <= 1 or idle_s > window_s:
        return 1
    return min(limit, max(clients, 1))


def _settle(future: asyncio.Future[list[Detection]], outcome: list[Detection] | BaseException) -> None:
    if future.done():  # the camera task was cancelled meanwhile
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def deliver(request: Request, outcome: list[Detection] | BaseException) -> None:
    """Settle a request's future on its own loop (from any thread)."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        request.loop.call_soon_threadsafe(_settle, request.future, outcome)


Outcome = list[Detection] | BaseException


def _settle_all(futures: list[asyncio.Future[list[Detection]]], outcomes: Sequence[Outcome]) -> None:
    for future, outcome in zip(futures, outcomes, strict=True):
        _settle(future, outcome)


def deliver_all(batch: list[Request], outcomes: Sequence[Outcome]) -> None:
    """Settle a batch's futures; one wake-up of the loop (not one per frame) when they share it."""
    loop = batch[0].loop
    if any(request.loop is not loop for request in batch):
        for request, outcome in zip(batch, outcomes, strict=True):
            deliver(request, outcome)
        return
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(_settle_all, [request.future for request in batch], outcomes)
