"""The camera driver's inventory (the birth's device list) says what a camera is doing, and tells the
agent when that changes so the retained birth can be published again."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import cv2
import numpy as np

from drivers.base import DriverContext
from drivers.camera.config import CameraDriverConfig
from drivers.camera.driver import CameraDriver


def video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(10):
        frame = np.full((48, 64, 3), 30, np.uint8)
        frame[10:20, i : i + 10] = 255
        writer.write(frame)
    writer.release()
    return path


async def test_inventory_follows_the_camera_and_announces_each_change(tmp_path: Path) -> None:
    changes: list[str] = []
    config = CameraDriverConfig.model_validate({
        "name": "cams", "driver": "camera",
        "cameras": [{"name": "north", "source": str(video(tmp_path / "v.avi")), "loop": True,
                     "width": 64, "height": 48, "motion": {"enabled": False}}],
    })
    context = DriverContext("gw", tmp_path, tmp_path, logging.getLogger("t"), inventory_changed=lambda: changes.append(
        driver.inventory()[0].state))
    driver = CameraDriver(config, context)
    assert driver.inventory()[0].state == "starting"  # configured, about to open: not "stopped"
    async with driver:
        async with asyncio.timeout(20):
            while driver.inventory()[0].state != "online":  # noqa: ASYNC110 -- the capture thread's state
                await asyncio.sleep(0.02)
            # the capture thread sets its state, then posts the announcement to the loop: it may come a
            # loop turn after the state reads "online" (a loaded CI machine showed that window)
            while not (changes and changes[-1] == "online"):  # noqa: ASYNC110 -- times out if never announced
                await asyncio.sleep(0.02)
        count = len(changes)
        await asyncio.sleep(0.5)
        assert len(changes) == count  # frames keep arriving: no change, no new birth
    assert driver.inventory()[0].state == "offline"  # closed: not delivering (a failed driver waits like this)
