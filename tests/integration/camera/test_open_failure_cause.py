"""A failed open says why: five cameras of one driver open at the same time against real failing sources
(HTTP 401 and 404 for an MJPEG URL, a closed port, a port that never answers, an RTSP path the GStreamer
server does not serve). Each ``camera_state`` event and each camera's status carry the typed cause read
from what FFmpeg reported for that very camera."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.base import DriverContext
from drivers.camera.config import CameraDriverConfig
from drivers.camera.driver import CameraDriver
from tests.fixtures.rtsp import RtspServer, rtsp_server  # noqa: F401 - pytest fixture
from tests.integration.camera.sink import CollectingSink
from tests.integration.camera.sources import FailingSources, failing_sources

pytestmark = [pytest.mark.camera, pytest.mark.slow, pytest.mark.timeout(120)]
OPEN_TIMEOUT_S = 1.5


@pytest.fixture
def sources() -> Iterator[FailingSources]:
    with failing_sources() as found:
        yield found


def camera(name: str, source: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": source,
        "width": 160,
        "height": 96,
        "stall_timeout_s": OPEN_TIMEOUT_S,
        "reopen_backoff_s": 0.5,
        "reopen_backoff_max_s": 1.0,
        "motion": {"enabled": False},
    }


def causes(sink: CollectingSink) -> dict[str, str]:
    return {e.device: str(e.data.get("cause")) for e in sink.events("camera_state") if e.data["state"] == "offline"}


async def test_each_camera_reports_why_it_cannot_open(
    sources: FailingSources, rtsp_server: RtspServer, tmp_path: Path  # noqa: F811
) -> None:
    expected = {
        "locked": ("unauthorized", sources.unauthorized, "401"),
        "moved": ("not_found", sources.not_found, "404"),
        "unplugged": ("refused", sources.refused, "refused"),
        "hung": ("timeout", sources.timeout, ""),
        "wrongpath": ("not_found", f"rtsp://127.0.0.1:{rtsp_server.port}/no/such/mount", "404"),
    }
    config = CameraDriverConfig.model_validate({
        "name": "cams",
        "driver": "camera",
        "cameras": [camera(name, source) for name, (_, source, _) in expected.items()],
    })
    driver = CameraDriver(config, DriverContext("gw", tmp_path, tmp_path, logging.getLogger("test")))
    sink = CollectingSink()
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        try:
            await sink.wait_for(lambda s: set(causes(s)) == set(expected), 60)
            status: Any = driver.status()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert causes(sink) == {name: cause for name, (cause, _, _) in expected.items()}
    for name, (cause, _, hint) in expected.items():
        event = next(e for e in sink.events("camera_state") if e.device == name)
        assert event.data["state"] == "offline" and event.data["reason"] == "open failed"
        assert hint in str(event.data["cause_detail"]), event.data  # what FFmpeg said, shortened
        assert status["cameras"][name]["state"] == "offline"
        assert status["cameras"][name]["cause"] == cause
