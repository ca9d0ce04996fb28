"""The per-camera loop with a fake video source and a fake model: failures are counted, not fatal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from agent.errors import DeviceError
from agent.records import Event, Record
from drivers.camera.config import CameraConfig
from drivers.camera.inference.errors import InferenceFailed
from drivers.camera.worker import CameraWorker
from tests.unit.camera.dets import Det

W, H = 64, 48




class MovingBoxSource:
    """A stream whose box jumps across the middle of the picture on every frame."""

    def __init__(self) -> None:
        self.index = 0

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, Any]:
        time.sleep(0.01)
        self.index += 1
        frame = np.zeros((H, W, 3), np.uint8)
        x = 10 if self.index % 2 else 40
        frame[10:30, x : x + 14] = 255
        return True, frame

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        pass


class FlakyDetector:
    """Fails its first call, then finds the white box."""

    def __init__(self) -> None:
        self.calls = 0

    async def detect(self, frame_bgr: Any) -> Sequence[Det]:
        self.calls += 1
        if self.calls == 1:
            raise InferenceFailed("model x: inference failed: boom")
        xs = np.flatnonzero(frame_bgr[20, :, 0])
        return [Det("car", float(xs[0]), 10.0, float(xs[-1] + 1), 30.0)]


class ListSink:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.crossings = asyncio.Event()

    async def put(self, record: Record) -> None:
        self.records.append(record)
        if isinstance(record, Event) and record.kind == "line_crossing" and self._count() >= 3:
            self.crossings.set()

    def _count(self) -> int:
        return sum(1 for r in self.records if isinstance(r, Event) and r.kind == "line_crossing")


async def test_inference_failure_is_counted_and_the_camera_keeps_going() -> None:
    config = CameraConfig.model_validate(
        {
            "name": "cam",
            "source": "rtsp://admin:secret@127.0.0.1/live",
            "width": W,
            "height": H,
            "detect_fps": 50,
            "motion": {"enabled": False},
            "inference": {"model": "fake"},
            "tracker": {"method": "centroid", "max_distance": 0.9},
            "lines": [{"name": "mid", "points": [[0.5, 1.0], [0.5, 0.0]], "emit_events": True}],
        }
    )
    detector = FlakyDetector()
    worker = CameraWorker(config, detector, opener=lambda _: MovingBoxSource())
    sink = ListSink()
    worker.start()
    task = asyncio.create_task(worker.run(sink))
    try:
        await asyncio.wait_for(sink.crossings.wait(), 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(worker.stop)
    status = worker.status()
    assert status["inference_errors"] == 1 and status["inferences"] == detector.calls - 1
    assert status["source"] == "rtsp://***@127.0.0.1/live"  # no password in status
    directions = [r.data["direction"] for r in sink.records if isinstance(r, Event) and r.kind == "line_crossing"]
    assert set(directions[:3]) == {"in", "out"}  # alternating sides
    states = [r.data["state"] for r in sink.records if isinstance(r, Event) and r.kind == "camera_state"]
    assert states == ["online"]
    assert status["last_latency_ms"] is not None
    frames = [status[k] for k in ("frames", "analysed_frames", "skipped_frames", "dropped_frames")]
    assert all(isinstance(n, int) for n in frames)
    total, analysed, skipped, dropped = (int(str(n)) for n in frames)
    assert analysed >= detector.calls and total - (analysed + skipped + dropped) in (0, 1)


class BuggySource(MovingBoxSource):
    """A couple of frames, then a failure the capture thread does not handle (it dies)."""

    def read(self) -> tuple[bool, Any]:
        if self.index >= 2:
            raise RuntimeError("a bug in the capture path")
        return super().read()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_dead_capture_thread_fails_the_worker() -> None:
    config = CameraConfig.model_validate(
        {"name": "cam", "source": "rtsp://127.0.0.1/live", "width": W, "height": H, "motion": {"enabled": False}}
    )
    worker = CameraWorker(config, None, opener=lambda _: BuggySource())
    worker.start()
    try:
        with pytest.raises(DeviceError, match="cam: capture thread died"):
            await asyncio.wait_for(worker.run(ListSink()), 20)
    finally:
        await asyncio.to_thread(worker.stop)
    assert worker.state == "online"  # what the camera claimed while nobody decoded any more
