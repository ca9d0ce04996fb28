"""An HTTP MJPEG camera (multipart/x-mixed-replace on loopback) that freezes: the connection stays
open but frames stop. The read timeout trips the watchdog, which reopens the stream."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.base import DriverContext
from drivers.camera.config import CameraDriverConfig
from drivers.camera.driver import CameraDriver
from tests.integration.camera.sink import CollectingSink

pytestmark = [pytest.mark.camera, pytest.mark.slow]
FRAMES_PER_CONNECTION = 15


class FreezingMjpegHandler(BaseHTTPRequestHandler):
    """Sends a burst of JPEG parts, then hangs without closing (a frozen IP camera)."""

    released = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for i in range(FRAMES_PER_CONNECTION):
            image = np.full((240, 320, 3), 60, np.uint8)
            cv2.putText(image, str(i), (100, 140), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 5)
            data = cv2.imencode(".jpg", image)[1].tobytes()
            head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            try:
                self.wfile.write(head + data + b"\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            time.sleep(0.05)
        self.released.wait(30)  # frozen: connected, silent

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mjpeg_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FreezingMjpegHandler)
    server.daemon_threads = True
    FreezingMjpegHandler.released.clear()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
    finally:
        FreezingMjpegHandler.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


async def test_frozen_mjpeg_stream_is_reopened(mjpeg_url: str, tmp_path: Path) -> None:
    config = CameraDriverConfig.model_validate(
        {
            "name": "cams",
            "driver": "camera",
            "cameras": [
                {
                    "name": "gate",
                    "source": mjpeg_url,
                    "width": 160,
                    "height": 120,
                    "stall_timeout_s": 1.0,
                    "reopen_backoff_s": 0.2,
                    "reopen_backoff_max_s": 0.5,
                    "motion": {"enabled": False},
                }
            ],
        }
    )
    driver = CameraDriver(config, DriverContext("gw", tmp_path, tmp_path, logging.getLogger("t")))
    sink = CollectingSink()
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        try:
            await sink.wait_for(lambda s: s.states()[:3] == ["online", "offline", "online"])
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        capture = driver.workers["gate"].capture
        assert capture is not None
        assert capture.frames >= FRAMES_PER_CONNECTION + 1  # a whole burst, then frames of the reopened stream
        assert capture.reopens >= 1
    assert sink.events("camera_state")[1].data["reason"] == "stalled"
