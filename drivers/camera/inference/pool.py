"""``SessionPool``: one session per model shared by every camera, batched across cameras, off the loop.

Each model gets one worker thread. ``detect`` puts a request on its queue and awaits a future. The
worker takes what is queued (up to ``max_batch``) and, while more cameras share the model than
requests are waiting, waits up to ``batch_window_ms`` for a fuller batch. With one camera it never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from agent.errors import EdgepostError
from agent.logs import RateLimiter, log_event, log_limited
from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.detection import Detection
from drivers.camera.inference.errors import InferenceFailed, PoolClosed
from drivers.camera.inference.manifest import LoadedManifest, ModelManifest, load_manifest
from drivers.camera.inference.preprocess import check_frame
from drivers.camera.inference.runner import ModelRunner
from drivers.camera.inference.session import SessionSettings
from drivers.camera.inference.store import find_manifest

logger = logging.getLogger(__name__)
_limiter = RateLimiter(60.0)
# What a bug in decode/preprocess may raise; turned into InferenceFailed so no caller hangs.
_WORKER_ERRORS = (EdgepostError, ArithmeticError, LookupError, ValueError, TypeError, MemoryError, cv2.error)


@dataclass
class _Request:
    frame: Any
    handle: ModelHandle
    future: asyncio.Future[list[Detection]]
    loop: asyncio.AbstractEventLoop


@dataclass
class _Stats:
    batches: int = 0
    frames: int = 0
    errors: int = 0
    busy_s: float = 0.0


class _Entry:
    """One model session and its worker thread."""

    def __init__(self, config: InferenceConfig, runner: ModelRunner) -> None:
        self.config = config
        self.runner = runner
        self.clients = 0
        self.stats = _Stats()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name=f"inference[{runner.name}]", daemon=True)
        self._thread.start()

    def submit(self, request: _Request) -> None:
        self._queue.put(request)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()
        while True:
            try:
                leftover = self._queue.get_nowait()
            except queue.Empty:
                return
            if leftover is not None:
                _deliver(leftover, PoolClosed("session pool closed"))

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, stopping = [first], False
        runner = self.runner
        limit = self.config.max_batch if runner.batch_dynamic else 1
        want = min(limit, max(self.clients, 1))
        deadline = time.monotonic() + self.config.batch_window_ms / 1000.0
        while len(batch) < limit:
            try:
                if len(batch) < want:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                else:
                    item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stopping = True
                break
            batch.append(item)
        return batch, stopping

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = self._collect(first)
            self._run(batch)
            if stopping:
                return

    def _run(self, batch: list[_Request]) -> None:
        runner = self.runner  # read once: an update may swap it between batches
        started = time.perf_counter()
        try:
            params = [r.handle.params_for(runner) for r in batch]
            results = runner.infer([r.frame for r in batch], params)
        except _WORKER_ERRORS as exc:
            self.stats.errors += 1
            error = exc if isinstance(exc, EdgepostError) else InferenceFailed(f"model {runner.name}: {exc!r}")
            key = f"infer:{runner.name}"
            log_limited(_limiter, logger, key, "inference_failed", model=runner.name, error=str(error))
            for request in batch:
                _deliver(request, error)
            return
        self.stats.batches += 1
        self.stats.frames += len(batch)
        self.stats.busy_s += time.perf_counter() - started
        for request, detections in zip(batch, results, strict=True):
            _deliver(request, detections)


def _deliver(request: _Request, outcome: list[Detection] | BaseException) -> None:
    def settle() -> None:
        if request.future.done():  # the camera task was cancelled meanwhile
            return
        if isinstance(outcome, BaseException):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        request.loop.call_soon_threadsafe(settle)


@dataclass(eq=False)
class ModelHandle:
    """One camera's use of a shared model. ``await handle.detect(frame_bgr)``."""

    config: InferenceConfig
    _entry: _Entry
    _closed: bool = field(default=False, repr=False)

    @property
    def runner(self) -> ModelRunner:
        return self._entry.runner

    @property
    def name(self) -> str:
        return self._entry.runner.name

    @property
    def manifest(self) -> ModelManifest:
        return self._entry.runner.manifest

    @property
    def labels(self) -> list[str]:
        return self._entry.runner.labels

    @property
    def sha256(self) -> str:
        return self._entry.runner.sha256

    def params_for(self, runner: ModelRunner) -> Any:
        return runner.default_params(self.config.confidence, self.config.iou, self.config.classes)

    async def detect(self, frame_bgr: Any) -> list[Detection]:
        """Detections in original frame pixels. Raises ``BadFrame``, ``InferenceFailed`` or ``PoolClosed``."""
        if self._closed:
            raise PoolClosed(f"model {self.name}: handle released")
        check_frame(frame_bgr)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Detection]] = loop.create_future()
        self._entry.submit(_Request(frame_bgr, self, future, loop))
        return await future


class SessionPool:
    """All loaded models of the agent. Not thread-safe: use it from the event loop."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.models_dir = models_dir
        self._entries: dict[tuple[object, ...], _Entry] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    def _resolve(self, config: InferenceConfig) -> InferenceConfig:
        if config.models_dir is None and self.models_dir is not None:
            return config.model_copy(update={"models_dir": self.models_dir})
        return config

    async def acquire(self, config: InferenceConfig) -> ModelHandle:
        """Load the model (in a thread) unless an identical session exists; raises ``ModelError``s."""
        config = self._resolve(config)
        async with self._lock:
            if self._closed:
                raise PoolClosed("session pool closed")
            key = config.session_key()
            entry = self._entries.get(key)
            if entry is None:
                runner = await asyncio.to_thread(load_runner, config)
                entry = _Entry(config, runner)
                self._entries[key] = entry
            entry.clients += 1
            return ModelHandle(config, entry)

    async def release(self, handle: ModelHandle) -> None:
        """Drop one camera's use; the session closes with its last user."""
        if handle._closed:
            return
        handle._closed = True
        async with self._lock:
            entry = handle._entry
            entry.clients -= 1
            if entry.clients <= 0:
                self._entries = {k: e for k, e in self._entries.items() if e is not entry}
                await asyncio.to_thread(entry.stop)

    async def replace(self, model: str, loaded: LoadedManifest) -> int:
        """Swap every live session of ``model`` for one built from ``loaded``; returns how many."""
        async with self._lock:
            swapped = 0
            for entry in self._entries.values():
                if entry.config.model != model:
                    continue
                settings = SessionSettings.from_config(entry.config)
                entry.runner = await asyncio.to_thread(ModelRunner.load, loaded, settings)
                swapped += 1
            if swapped:
                log_event(logger, "model_swapped", model=model, sessions=swapped)
            return swapped

    def models(self) -> Sequence[str]:
        return sorted({e.config.model for e in self._entries.values()})

    def status(self) -> dict[str, dict[str, float | int | str]]:
        out: dict[str, dict[str, float | int | str]] = {}
        for entry in self._entries.values():
            stats = entry.stats
            key, n = entry.runner.name, 1
            while key in out:  # the same model with other session options
                n += 1
                key = f"{entry.runner.name}#{n}"
            out[key] = {
                "sha256": entry.runner.sha256,
                "cameras": entry.clients,
                "frames": stats.frames,
                "batches": stats.batches,
                "errors": stats.errors,
                "avg_batch": round(stats.frames / stats.batches, 2) if stats.batches else 0.0,
                "busy_s": round(stats.busy_s, 3),
            }
        return out

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            entries, self._entries = list(self._entries.values()), {}
            for entry in entries:
                await asyncio.to_thread(entry.stop)


def load_runner(config: InferenceConfig) -> ModelRunner:
    """Blocking: find the manifest, validate it and load the model. Raises ``ModelError``s."""
    loaded = load_manifest(find_manifest(config.model, config.models_dir))
    return ModelRunner.load(loaded, SessionSettings.from_config(config))
