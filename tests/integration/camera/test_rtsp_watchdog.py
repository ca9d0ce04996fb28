"""A real RTSP stream (gst-rtsp-server) read by the camera driver; killing it trips the watchdog."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from drivers.base import DriverContext
from drivers.camera.config import CameraDriverConfig
from drivers.camera.driver import CameraDriver
from tests.fixtures.rtsp import RtspServer, rtsp_server  # noqa: F401 - pytest fixture
from tests.integration.camera.sink import CollectingSink

pytestmark = [pytest.mark.camera, pytest.mark.slow]


def _context(tmp_path: Path) -> DriverContext:
    return DriverContext("gw1", tmp_path, tmp_path, logging.getLogger("test.camera"))


async def test_stream_killed_goes_offline_and_comes_back(rtsp_server: RtspServer, tmp_path: Path) -> None:  # noqa: F811
    config = CameraDriverConfig.model_validate(
        {
            "name": "cams",
            "driver": "camera",
            "cameras": [
                {
                    "name": "pole1",
                    "source": rtsp_server.url,
                    "width": 160,
                    "height": 96,
                    "stall_timeout_s": 2.0,
                    "reopen_backoff_s": 0.5,
                    "reopen_backoff_max_s": 1.0,
                    "motion": {"enabled": False},
                }
            ],
        }
    )
    driver = CameraDriver(config, _context(tmp_path))
    sink = CollectingSink()
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        try:
            await sink.wait_for(lambda s: s.states() == ["online"])
            worker = driver.workers["pole1"]
            assert worker.capture is not None
            frames_while_up = worker.capture.frames
            assert frames_while_up > 0

            await asyncio.to_thread(rtsp_server.stop)
            await sink.wait_for(lambda s: s.states() == ["online", "offline"])
            assert driver.inventory()[0].state == "offline"
            reason = sink.events("camera_state")[-1].data["reason"]
            assert reason == "stalled"

            await asyncio.to_thread(rtsp_server.start)
            await sink.wait_for(lambda s: s.state_changes() == ["online", "offline", "online"])
            retries = [e.data for e in sink.events("camera_state")[2:-1]]  # reopens before the server was back
            assert all(d["reason"] == "open failed" and d["cause"] == "refused" for d in retries), retries
            status = driver.status()["cameras"]["pole1"]  # type: ignore[index, call-overload]
            assert status["reopens"] >= 1
            assert status["frames"] > frames_while_up
            assert status["source"] == rtsp_server.url
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert not worker.capture.alive
