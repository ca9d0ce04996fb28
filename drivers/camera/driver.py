"""The camera driver: one capture thread and one analytics loop per camera.

Imported only when a config names ``driver: camera`` (it pulls in OpenCV, numpy and, through the
inference runtime, onnxruntime). Cameras that run the same model share one session from the
inference runtime's pool.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, cast

from agent.records import JsonValue
from drivers.base import DeviceInfo, Driver, DriverContext, RecordSink
from drivers.camera.config import CameraDriverConfig
from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.pool import SessionPool
from drivers.camera.worker import CameraWorker, Detector, redact_source


class ModelPool(Protocol):
    """The inference runtime's ``SessionPool`` as this driver uses it (tests may pass a fake)."""

    async def acquire(self, config: InferenceConfig) -> Any: ...
    async def release(self, model: Any) -> None: ...
    async def close(self) -> None: ...
    def status(self) -> dict[str, dict[str, float | int | str]]: ...


class CameraDriver(Driver[CameraDriverConfig]):
    config_model = CameraDriverConfig

    def __init__(self, config: CameraDriverConfig, context: DriverContext, pool: ModelPool | None = None) -> None:
        super().__init__(config, context)
        self._pool: ModelPool | None = pool
        self._own_pool = pool is None
        self._models: list[Any] = []
        self.workers: dict[str, CameraWorker] = {}

    async def open(self) -> None:
        if any(c.inference is not None for c in self.config.cameras) and self._pool is None:
            self._pool = SessionPool()
        try:
            for camera in self.config.cameras:
                detector: Detector | None = None
                if camera.inference is not None:
                    assert self._pool is not None
                    model = await self._pool.acquire(camera.inference)
                    self._models.append(model)
                    detector = cast(Detector, model)
                self.workers[camera.name] = CameraWorker(camera, detector)
            for worker in self.workers.values():
                worker.start()
        except BaseException:
            await self.close()
            raise

    async def run(self, sink: RecordSink) -> None:
        async with asyncio.TaskGroup() as group:
            for name, worker in self.workers.items():
                group.create_task(worker.run(sink), name=f"camera[{name}]")

    async def close(self) -> None:
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
            state = worker.state if worker is not None else "stopped"
            devices.append(DeviceInfo(camera.name, "camera", None, state, attributes))
        return devices

    def status(self) -> dict[str, JsonValue]:
        """Per camera: state, fps, frames, dropped frames, reopens, inferences...; per model: its session."""
        cameras: dict[str, JsonValue] = {name: worker.status() for name, worker in self.workers.items()}
        models: dict[str, JsonValue] = {}
        if self._pool is not None:
            models = {name: dict(stats) for name, stats in self._pool.status().items()}
        return {"cameras": cameras, "models": models}
