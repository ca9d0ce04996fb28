"""A stalled camera is not an empty scene: a real RTSP stream (gst-rtsp-server) of a car parked in a
no-parking zone, read by the real camera driver running the real ONNX blob detector. The server is killed
while the alarm is raised, then comes back with the car still there.

Expected: no ``illegal_parking_cleared`` and no second ``illegal_parking``; zone counts for the periods
that cover the outage are not published as good; periods fully after the stream returned are good again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from agent.records import Quality, Reading
from drivers.base import DriverContext
from drivers.camera.config import CameraDriverConfig
from drivers.camera.driver import CameraDriver
from tests.fixtures.rtsp import RtspServer, rtsp_available
from tests.integration.camera.blob_model import write_blob_model
from tests.integration.camera.scene import NOPARKING
from tests.integration.camera.sink import CollectingSink

pytestmark = [pytest.mark.camera, pytest.mark.slow, pytest.mark.timeout(180)]

# A red 48x28 car at (200, 130) on a black 320x192 street: its centre (0.70, 0.75) is inside NOPARKING.
PARKED_CAR = (
    "( videotestsrc is-live=true pattern=solid-color foreground-color=0xffff0000 "
    "! video/x-raw,width=48,height=28,framerate=10/1 "
    "! videobox left=-200 top=-130 right=-72 bottom=-34 fill=black "
    "! videoconvert ! video/x-raw,format=I420 ! jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26 )"
)
COUNT = "zone.noparking.count.car"
MAX_MISSED_S = 5.0  # the scene clock tolerates frame gaps up to half of it: room for a loaded test machine


def counts(sink: CollectingSink) -> list[Reading]:
    return [r for r in sink.records if isinstance(r, Reading) and r.point == COUNT]


def after(sink: CollectingSink, ts: float) -> list[Reading]:
    return [r for r in counts(sink) if r.ts > ts]


async def test_parked_car_survives_a_killed_stream(tmp_path: Path) -> None:
    if not rtsp_available():
        pytest.skip("gst-rtsp-server (python3-gi, gir1.2-gst-rtsp-server-1.0) is not installed")
    models = tmp_path / "models"
    write_blob_model(models)
    server = RtspServer(PARKED_CAR)
    server.start()
    config = CameraDriverConfig.model_validate({
        "name": "cams",
        "driver": "camera",
        "cameras": [{
            "name": "pole",
            "source": server.url,
            "width": 320,
            "height": 192,
            "detect_fps": 5,
            "stall_timeout_s": 2.0,
            "reopen_backoff_s": 0.3,
            "reopen_backoff_max_s": 1.0,
            "motion": {"enabled": False},
            "inference": {"model": "blob", "models_dir": str(models), "intra_op_threads": 1},
            "tracker": {"max_missed_s": MAX_MISSED_S},
            "zones": [{**NOPARKING, "dwell_alarm_s": 1.0}],
            "aggregate_period_s": 1.0,
        }],
    })
    driver = CameraDriver(config, DriverContext("gw", tmp_path, tmp_path, logging.getLogger("test")))
    sink = CollectingSink()
    try:
        async with driver:
            task = asyncio.create_task(driver.run(sink))
            try:
                await sink.wait_for(lambda s: bool(s.events("illegal_parking")), 60)
                raised_at = sink.events("illegal_parking")[0].ts
                await sink.wait_for(lambda s: len(after(s, raised_at)) >= 3, 60)
                killed = time.time()
                await asyncio.to_thread(server.stop)
                await sink.wait_for(lambda s: "offline" in s.states(), 60)
                offline = sink.events("camera_state")[-1].ts
                # Longer than tracker.max_missed_s without a frame, with aggregates published meanwhile.
                await sink.wait_for(lambda s: len(after(s, offline + MAX_MISSED_S)) >= 1, 60)

                await asyncio.to_thread(server.start)
                await sink.wait_for(lambda s: s.state_changes() == ["online", "offline", "online"], 60)
                online = sink.events("camera_state")[-1].ts
                worker = driver.workers["pole"]
                resumed_at = worker.inferences
                # Longer than max_missed_s of frames after the return: a lost track would be dropped by now.
                await sink.wait_for(
                    lambda s: worker.inferences >= resumed_at + 40 and len(after(s, online + 4.0)) >= 2, 90
                )
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        server.stop()

    assert sink.state_changes() == ["online", "offline", "online"]
    assert sink.events("illegal_parking_cleared") == []  # the camera going blind cleared nothing
    raised = sink.events("illegal_parking")
    assert len(raised) == 1, [e.data for e in raised]  # the car that stayed is not a new parking

    before = [r for r in counts(sink) if raised_at < r.ts < killed - 1.0]  # periods the camera fully watched
    assert before and all(r.quality is Quality.GOOD for r in before)
    during = [r for r in counts(sink) if offline <= r.ts <= online]
    assert during, "no count was published while the camera was offline"
    assert all(r.quality is not Quality.GOOD for r in during), [(r.ts, r.value, r.quality) for r in during]
    entries = [r for r in sink.records if isinstance(r, Reading) and r.point == "zone.noparking.entries.car"]
    assert all(r.quality is not Quality.GOOD for r in entries if offline <= r.ts <= online)
    settled = after(sink, online + 4.0)
    assert settled and all(r.quality is Quality.GOOD and r.value == 1 for r in settled)
