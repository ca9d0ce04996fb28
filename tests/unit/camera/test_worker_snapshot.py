"""``CameraWorker.snapshot_jpeg``: the newest frame, privacy regions filled, and persons pixelated only
when the model ran on that very frame; no recent frame is a DeviceTimeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import pytest

from agent.errors import DeviceTimeout
from agent.records import Record
from drivers.camera.config import CameraConfig
from drivers.camera.worker import CameraWorker
from tests.unit.camera.dets import Det

W, H = 96, 64
PERSON = (10, 10, 42, 42)  # x1, y1, x2, y2 of a checkerboard "person"




def scene() -> np.ndarray:
    frame = np.full((H, W, 3), 90, np.uint8)
    x1, y1, x2, y2 = PERSON
    board = (np.indices((y2 - y1, x2 - x1)).sum(axis=0) % 2 * 255).astype(np.uint8)
    frame[y1:y2, x1:x2] = board[..., None]
    frame[:, 70:] = 255  # inside the privacy region
    return frame


class OneFrameSource:
    """Delivers one frame on its first open, then nothing (a stalled stream)."""

    delivered = False

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, Any]:
        if not OneFrameSource.delivered:
            OneFrameSource.delivered = True
            return True, scene()
        time.sleep(0.01)
        return False, None

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        pass


class PersonDetector:
    def __init__(self) -> None:
        self.calls = 0

    async def detect(self, frame_bgr: Any) -> Sequence[Det]:
        self.calls += 1
        return [Det("person", *map(float, PERSON))]


class NullSink:
    async def put(self, record: Record) -> None:
        pass


def config(stall_timeout_s: float, model: bool) -> CameraConfig:
    return CameraConfig.model_validate({
        "name": "cam", "source": "rtsp://127.0.0.1:9/none", "width": W, "height": H, "detect_fps": 20,
        "stall_timeout_s": stall_timeout_s, "reopen_backoff_s": 30, "reopen_backoff_max_s": 30,
        "motion": {"enabled": False},
        "inference": {"model": "fake"} if model else None,
        "snapshots": {"privacy_regions": [[[0.7, 0.0], [1.0, 0.0], [1.0, 1.0], [0.7, 1.0]]], "jpeg_quality": 95},
    })


async def worker_with_one_frame(cfg: CameraConfig, detector: PersonDetector | None) -> tuple[CameraWorker, Any]:
    OneFrameSource.delivered = False
    worker = CameraWorker(cfg, detector, opener=lambda _: OneFrameSource())
    worker.start()
    task = asyncio.create_task(worker.run(NullSink()))
    async with asyncio.timeout(10):
        while worker.capture is None or worker.capture.latest is None or (  # noqa: ASYNC110
            detector is not None and worker.inferences < 1
        ):
            await asyncio.sleep(0.01)
    return worker, task


async def stop(worker: CameraWorker, task: Any) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.to_thread(worker.stop)


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (H, W, 3)
    return image


def person_contrast(image: np.ndarray) -> float:
    x1, y1, x2, y2 = PERSON
    return float(image[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2].std())


@pytest.mark.parametrize("with_model", [True, False])
async def test_newest_frame_is_masked(with_model: bool) -> None:
    detector = PersonDetector() if with_model else None
    worker, task = await worker_with_one_frame(config(10.0, with_model), detector)
    try:
        image = decode(await asyncio.to_thread(worker.snapshot_jpeg))
    finally:
        await stop(worker, task)
    assert int(image[:, 70:].max()) <= 12  # privacy region filled, model or not
    assert 80 <= int(np.median(image[50:, :60])) <= 100  # the rest is the scene
    if with_model:
        assert person_contrast(image) < 20  # the detected person is pixelated
    else:
        assert person_contrast(image) > 80  # nothing detected on this frame: the pattern is intact


async def test_no_frame_yet_and_stale_frame_are_device_timeouts() -> None:
    cfg = config(0.3, model=False)
    with pytest.raises(DeviceTimeout, match="no frame received yet"):
        CameraWorker(cfg, None).snapshot_jpeg()
    worker, task = await worker_with_one_frame(cfg, None)
    try:
        await asyncio.sleep(0.5)  # longer than stall_timeout_s: the frame is too old to show as "now"
        with pytest.raises(DeviceTimeout, match="no frame for"):
            await asyncio.to_thread(worker.snapshot_jpeg)
    finally:
        await stop(worker, task)
