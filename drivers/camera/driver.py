"""The camera driver: one capture thread and one analytics loop per camera.

Imported only when a config names ``driver: camera`` (it pulls in OpenCV, numpy and, through the
inference runtime, onnxruntime). Cameras that run the same model share one session from the
inference runtime's pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from agent.errors import DeviceError, ModelError
from agent.records import Event, JsonValue
from drivers.base import DeviceInfo, Driver, DriverConfigBase, DriverContext, NotSupported, RecordSink
from drivers.camera.config import CameraDriverConfig
from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.manifest import LoadedManifest
from drivers.camera.inference.pool import SessionPool
from drivers.camera.inference.store import find_manifest
from drivers.camera.inference.update import update_model
from drivers.camera.still import grab_still
from drivers.camera.worker import CameraWorker, Detector, redact_source
from drivers.capabilities import ModelUpdates, Snapshots


class ModelPool(Protocol):
    """The inference runtime's ``SessionPool`` as this driver uses it (tests may pass a fake)."""

    async def acquire(self, config: InferenceConfig) -> Any: ...
    async def release(self, model: Any) -> None: ...
    async def replace(self, model: str, loaded: LoadedManifest) -> int: ...
    async def close(self) -> None: ...
    def status(self) -> dict[str, dict[str, float | int | str]]: ...


class CameraDriver(Driver[CameraDriverConfig], Snapshots, ModelUpdates):
    config_model = CameraDriverConfig

    def __init__(self, config: CameraDriverConfig, context: DriverContext, pool: ModelPool | None = None) -> None:
        super().__init__(config, context)
        self._pool: ModelPool | None = pool
        self._own_pool = pool is None
        self._models: list[Any] = []
        self.workers: dict[str, CameraWorker] = {}
        self._sink: RecordSink | None = None  # the pipeline, while run() runs
        self._update_lock = asyncio.Lock()
        self._closed = False  # closed (stopped, or failed awaiting a restart): "offline"; never opened: "starting"

    @classmethod
    def check_config(
        cls, config: DriverConfigBase, profile_dirs: Sequence[Path] | None = None
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """Every camera's model exists (a manifest is found); loading and checksums happen at open."""
        assert isinstance(config, CameraDriverConfig)
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, camera in enumerate(config.cameras):
            if camera.inference is None:
                continue
            try:
                find_manifest(camera.inference.model, camera.inference.models_dir)
            except ModelError as exc:
                problems.append((("cameras", index, "inference", "model"), str(exc)))
        return problems

    async def open(self) -> None:
        if any(c.inference is not None for c in self.config.cameras) and self._pool is None:
            self._pool = SessionPool()
        opened = False
        try:
            for camera in self.config.cameras:
                detector: Detector | None = None
                if camera.inference is not None:
                    assert self._pool is not None
                    model = await self._pool.acquire(camera.inference)
                    self._models.append(model)
                    detector = cast(Detector, model)
                self.workers[camera.name] = CameraWorker(
                    camera, detector, on_state_change=self.context.inventory_changed
                )
            for worker in self.workers.values():
                worker.start()
            opened = True
            self._closed = False
        finally:
            if not opened:  # a bad model or source leaves no capture thread or session behind
                await self.close()

    async def run(self, sink: RecordSink) -> None:
        self._sink = sink
        try:
            async with asyncio.TaskGroup() as group:
                for name, worker in self.workers.items():
                    group.create_task(worker.run(sink), name=f"camera[{name}]")
        finally:
            self._sink = None

    async def close(self) -> None:
        self._closed = True
        workers, self.workers = list(self.workers.values()), {}
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))
        models, self._models = self._models, []
        if self._pool is not None:
            for model in models:
                await self._pool.release(model)
            if self._own_pool:
                await self._pool.close()
                self._pool = None

    def inventory(self) -> list[DeviceInfo]:
        devices: list[DeviceInfo] = []
        for camera in self.config.cameras:
            worker = self.workers.get(camera.name)
            attributes: dict[str, JsonValue] = {
                "source": redact_source(camera.source),
                "width": camera.width,
                "height": camera.height,
                "model": camera.inference.model if camera.inference else None,
                "snapshots": camera.snapshots.enabled,
            }
            state = worker.state if worker is not None else "offline" if self._closed else "starting"
            devices.append(DeviceInfo(camera.name, "camera", None, state, attributes))
        return devices

    def status(self) -> dict[str, JsonValue]:
        """Per camera: state, fps, frames, dropped frames, reopens, inferences...; per model: its session."""
        cameras: dict[str, JsonValue] = {name: worker.status() for name, worker in self.workers.items()}
        models: dict[str, JsonValue] = {}
        if self._pool is not None:
            models = {name: dict(stats) for name, stats in self._pool.status().items()}
        return {"cameras": cameras, "models": models}

    async def snapshot(self, camera: str) -> bytes:
        """JPEG of ``camera``'s newest frame with its privacy regions filled (control socket, CLI)."""
        if camera not in {c.name for c in self.config.cameras}:
            raise NotSupported(f"{self.name}: no camera named {camera!r}")
        worker = self.workers.get(camera)
        if worker is None:
            raise DeviceError(camera, f"camera driver {self.name} is not running")
        return await asyncio.to_thread(worker.snapshot_jpeg)

    @classmethod
    def local_snapshot(cls, config: DriverConfigBase, camera: str) -> bytes:
        """Blocking: ``edgepost camera snapshot`` with no daemon running. The CLI's own open of the
        source, masked like :meth:`snapshot`."""
        assert isinstance(config, CameraDriverConfig)
        for candidate in config.cameras:
            if candidate.name == camera:
                return grab_still(candidate)
        raise NotSupported(f"{config.name}: no camera named {camera!r}")

    def cameras_using(self, model: str) -> list[str]:
        return [c.name for c in self.config.cameras if c.inference is not None and c.inference.model == model]

    async def update_model(self, name: str, model_file: Path, manifest_file: Path) -> Event:
        """Verify, self-test and swap in a new version of model ``name`` for every camera of this driver
        that runs it, installed in the ``inference.models_dir`` they load it from. The ``model_updated``/
        ``model_update_failed`` event goes to the pipeline while the driver runs, and is returned either
        way. A failed update keeps the old model."""
        try:
            cameras, models_dir = self.config.model_users(name)
        except ValueError as exc:
            raise NotSupported(str(exc)) from None
        if not cameras:
            raise NotSupported(f"{self.name}: no camera runs model {name!r}")
        async with self._update_lock:  # two updates of one model must not interleave their swaps
            result = await update_model(name, model_file, manifest_file, models_dir=models_dir, pool=self._pool)
        base = result.event(self.name)
        event = Event(base.device, base.kind, base.ts, base.priority, {**base.data, "cameras": list(cameras)})
        sink = self._sink
        if sink is not None:
            await sink.put(event)
        return event
