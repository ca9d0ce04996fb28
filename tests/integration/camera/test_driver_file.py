"""The whole camera driver on a real video file: capture thread (real-time pacing), motion gating,
the real ONNX blob detector through the inference SessionPool (one session, two cameras),
analytics, periodic readings and privacy snapshots (on for one camera, off for the other)."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.records import Priority, Reading
from drivers.base import DriverContext
from drivers.camera.config import CameraDriverConfig
from drivers.camera.driver import CameraDriver
from tests.integration.camera.blob_model import write_blob_model
from tests.integration.camera.scene import GATE, NOPARKING, write_scene
from tests.integration.camera.sink import CollectingSink

pytestmark = [pytest.mark.camera, pytest.mark.slow]
PRIVACY = [[0.0, 0.0], [0.3, 0.0], [0.3, 0.4], [0.0, 0.4]]
MAX_BYTES = 4000


def _camera(name: str, video: Path, models: Path, snapshots: dict[str, object]) -> dict[str, object]:
    return {
        "name": name,
        "source": str(video),
        "width": 320,
        "height": 192,
        "detect_fps": 10,
        "motion": {"enabled": True, "method": "diff", "force_every_s": 1.0},
        "inference": {"model": "blob", "models_dir": str(models)},
        "tracker": {"method": "centroid", "max_missed_s": 3.0},
        "zones": [NOPARKING],
        "lines": [GATE],
        "aggregate_period_s": 1.0,
        "snapshots": snapshots,
    }


def _sum(sink: CollectingSink, device: str, point: str) -> float:
    return sum(
        float(r.value or 0) for r in sink.records if isinstance(r, Reading) and r.device == device and r.point == point
    )


async def test_file_camera_end_to_end(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_blob_model(models)
    video = write_scene(tmp_path / "scene.avi", fps=10.0)
    snapshots_on = {
        "enabled": True,
        "max_bytes": MAX_BYTES,
        "privacy_regions": [PRIVACY],
        "events": ["illegal_parking"],
    }
    config = CameraDriverConfig.model_validate(
        {
            "name": "cams",
            "driver": "camera",
            "cameras": [_camera("private", video, models, snapshots_on), _camera("plain", video, models, {})],
        }
    )
    driver = CameraDriver(config, DriverContext("gw1", tmp_path, tmp_path, logging.getLogger("test")))
    sink = CollectingSink()

    def finished(s: CollectingSink) -> bool:
        ended = [e for e in s.events("camera_state") if e.data["state"] == "ended"]
        if len(ended) < 2:
            return False
        last_end = max(e.ts for e in ended)
        later = [r for r in s.records if isinstance(r, Reading) and r.ts > last_end + 1.0]
        return {r.device for r in later} == {"private", "plain"}  # a full aggregate period after the end

    async with driver:
        task = asyncio.create_task(driver.run(sink))
        try:
            await sink.wait_for(finished, timeout=60)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        status = driver.status()

    for camera in ("private", "plain"):
        assert _sum(sink, camera, "line.gate.eastbound.car") == 1
        assert _sum(sink, camera, "line.gate.westbound.person") == 1
        assert _sum(sink, camera, "line.gate.westbound.car") == 0
        assert _sum(sink, camera, "line.gate.eastbound.person") == 0
        assert _sum(sink, camera, "zone.noparking.entries.car") == 1
        parking = [e for e in sink.events("illegal_parking") if e.device == camera]
        assert len(parking) == 1 and parking[0].priority is Priority.ALARM
        cleared = [e for e in sink.events("illegal_parking_cleared") if e.device == camera]
        assert len(cleared) == 1
        states = [e.data["state"] for e in sink.events("camera_state") if e.device == camera]
        assert states == ["online", "ended"]
        cam_status = status["cameras"][camera]  # type: ignore[index, call-overload]
        assert cam_status["inferences"] > 0 and cam_status["motion_skipped"] > 0

    snapshots = sink.events("snapshot")
    assert [s.device for s in snapshots] == ["private"]  # privacy by default: nothing from "plain"
    snapshot = snapshots[0]
    parking_private = next(e for e in sink.events("illegal_parking") if e.device == "private")
    assert snapshot.data["event_id"] == parking_private.data["event_id"]
    assert snapshot.data["event_kind"] == "illegal_parking" and snapshot.data["topic"] == "snapshots"
    jpeg = base64.b64decode(str(snapshot.data["jpeg_b64"]))
    assert len(jpeg) == snapshot.data["bytes"] and len(jpeg) <= MAX_BYTES
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    height, width = image.shape[:2]
    assert (width, height) == (snapshot.data["width"], snapshot.data["height"])
    inner = image[2 : int(0.4 * height) - 3, 2 : int(0.3 * width) - 3]
    assert int(inner.max()) <= 12  # the privacy region is filled (JPEG noise aside), not just dimmed
    outside = image[int(0.5 * height) :, :]
    assert int(np.median(outside)) >= 30  # the rest of the picture is still there (background 40)
