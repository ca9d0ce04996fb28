"""``SessionPool``: one session per model shared by every camera, batched across cameras, off the loop.

``acquire`` loads a model (in a thread) or shares the session already loaded with the same options;
``ModelHandle.detect`` hands a frame to the model's worker thread (``worker.py``) and awaits the result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.logs import log_event
from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.detection import Detection
from drivers.camera.inference.errors import PoolClosed
from drivers.camera.inference.manifest import LoadedManifest, ModelManifest, load_manifest
from drivers.camera.inference.postprocess import DecodeParams
from drivers.camera.inference.preprocess import check_frame
from drivers.camera.inference.runner import ModelRunner
from drivers.camera.inference.session import SessionSettings
from drivers.camera.inference.store import find_manifest
from drivers.camera.inference.worker import ModelWorker, Request

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class ModelHandle:
    """One camera's use of a shared model. ``await handle.detect(frame_bgr)``."""

    config: InferenceConfig
    _entry: ModelWorker
    _closed: bool = field(default=False, repr=False)
    _params: tuple[ModelRunner, DecodeParams] | None = field(default=None, repr=False)  # per runner

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

    def params_for(self, runner: ModelRunner) -> DecodeParams:
        """This camera's thresholds for ``runner``; built once per runner (the worker calls it per frame)."""
        cached = self._params
        if cached is not None and cached[0] is runner:
            return cached[1]
        params = runner.default_params(self.config.confidence, self.config.iou, self.config.classes)
        self._params = (runner, params)
        return params

    async def detect(self, frame_bgr: Any) -> list[Detection]:
        """Detections in original frame pixels. Raises ``BadFrame``, ``InferenceFailed`` or ``PoolClosed``."""
        if self._closed:
            raise PoolClosed(f"model {self.name}: handle released")
        check_frame(frame_bgr)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Detection]] = loop.create_future()
        self._entry.submit(Request(frame_bgr, self.params_for, future, loop))
        return await future


class SessionPool:
    """All loaded models of the agent. Not thread-safe: use it from the event loop."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.models_dir = models_dir
        self._entries: dict[tuple[object, ...], ModelWorker] = {}
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
                entry = ModelWorker(config, runner)
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
