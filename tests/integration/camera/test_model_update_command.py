"""``update_model`` downlink commands against a real CameraDriver running the shipped ``models/blob-detector``
on a looping video file: a good update swaps the live session (and disk), a corrupt one keeps the old
model; both answer the command and put their event into the driver's pipeline sink."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.commands.config import CommandsConfig
from agent.commands.dispatcher import CommandDispatcher
from agent.records import Priority
from drivers.base import Driver, DriverContext
from drivers.camera.config import CameraDriverConfig
from drivers.camera.driver import CameraDriver
from tests.integration.camera.shipped_blob import SIZE, candidate, write_video
from tests.integration.camera.sink import CollectingSink

pytestmark = [pytest.mark.camera, pytest.mark.timeout(120)]


class Targets:
    def __init__(self, driver: CameraDriver) -> None:
        self.driver = driver

    def driver_for(self, device: str) -> Driver[Any] | None:
        return self.driver if device == "north" else None

    def resend_birth(self) -> None:
        pass

    def all_drivers(self) -> list[Driver[Any]]:
        return [self.driver]


Running = tuple[CameraDriver, CollectingSink, CommandDispatcher, Path]


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    models = tmp_path / "models"  # updates land here; the first load comes from the shipped models/
    config = CameraDriverConfig.model_validate({
        "name": "cams",
        "driver": "camera",
        "cameras": [{
            "name": "north", "source": str(write_video(tmp_path / "blob.avi")), "loop": True,
            "width": SIZE, "height": SIZE, "detect_fps": 5, "motion": {"enabled": False},
            "inference": {"model": "blob-detector", "models_dir": str(models), "intra_op_threads": 1},
        }],
    })
    driver = CameraDriver(config, DriverContext("gw1", tmp_path, tmp_path, logging.getLogger("test")))
    sink = CollectingSink()
    dispatcher = CommandDispatcher(CommandsConfig(model_updates=True), Targets(driver), tmp_path / "state")
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        try:
            yield driver, sink, dispatcher, models
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await dispatcher.close()


def camera_status(driver: CameraDriver) -> dict[str, Any]:
    status: Any = driver.status()
    return dict(status["cameras"]["north"])


def model_sha(driver: CameraDriver) -> str:
    status: Any = driver.status()
    return str(status["models"]["blob-detector"]["sha256"])


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 -- polls the driver's own counters
            await asyncio.sleep(0.05)


async def command(dispatcher: CommandDispatcher, cid: str, **fields: Any) -> dict[str, Any]:
    payload = {"id": cid, "expires_at": time.time() + 300, "kind": "update_model", "model": "blob-detector"}
    raw = await dispatcher.handle_message("models", orjson.dumps({**payload, **fields}))
    answer: dict[str, Any] = orjson.loads(raw)
    return answer


async def test_good_update_swaps_then_corrupt_update_keeps_it(running: Running, tmp_path: Path) -> None:
    driver, sink, dispatcher, models = running
    shipped_sha = model_sha(driver)
    await until(lambda: camera_status(driver)["inferences"] >= 2)

    model_file, manifest, data = await asyncio.to_thread(candidate, tmp_path / "v2", 0.4, "2")
    good = await command(dispatcher, "u-good", manifest=str(manifest), file=str(model_file))
    new_sha = hashlib.sha256(data).hexdigest()
    assert (good["ok"], good["code"]) == (True, "ok"), good
    assert good["result"] == {"model": "blob-detector", "sha256": new_sha, "drivers": ["cams"],
                              "cameras": ["north"], "sessions": 1}
    assert new_sha != shipped_sha and model_sha(driver) == new_sha  # the live session was swapped
    updated = sink.events("model_updated")
    assert len(updated) == 1 and updated[0].device == "cams"
    assert updated[0].data["sha256"] == new_sha and updated[0].data["cameras"] == ["north"]
    current = models / "blob-detector" / "current"
    assert (current / "blob.onnx").read_bytes() == data  # a restart loads the new version too
    after_swap = camera_status(driver)["inferences"]
    await until(lambda: camera_status(driver)["inferences"] >= after_swap + 2)  # the camera keeps detecting

    _, bad_manifest, bad_data = await asyncio.to_thread(candidate, tmp_path / "v3", 0.3, "3")
    link_before = os.readlink(current)
    bad = await command(dispatcher, "u-corrupt", manifest_yaml=bad_manifest.read_text(),
                        model_b64=base64.b64encode(bad_data[:-9]).decode())  # truncated in transit
    assert (bad["ok"], bad["code"]) == (False, "failed"), bad
    assert "sha256" in bad["message"] and "does not match" in bad["message"]
    assert model_sha(driver) == new_sha and os.readlink(current) == link_before  # old model kept
    failed = sink.events("model_update_failed")
    assert len(failed) == 1 and failed[0].priority is Priority.ALARM
    assert failed[0].data["model"] == "blob-detector" and "does not match" in str(failed[0].data["reason"])
    before = camera_status(driver)["inferences"]
    await until(lambda: camera_status(driver)["inferences"] >= before + 2)
    assert camera_status(driver)["inference_errors"] == 0
    assert [e.data["state"] for e in sink.events("camera_state")] == ["online"]
