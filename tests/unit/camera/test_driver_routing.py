"""CameraDriver.snapshot / update_model refuse what they cannot serve before touching any file or session."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from agent.errors import DeviceError
from drivers.base import DriverContext, NotSupported
from drivers.camera.config import CameraDriverConfig
from drivers.camera.driver import CameraDriver


def driver(tmp_path: Path, cameras: list[dict[str, Any]]) -> CameraDriver:
    config = CameraDriverConfig.model_validate({"name": "cams", "driver": "camera", "cameras": cameras})
    return CameraDriver(config, DriverContext("gw", tmp_path, tmp_path, logging.getLogger("t")))


def cam(name: str, model: str | None = None, models_dir: str | None = None) -> dict[str, Any]:
    inference = {"model": model, "models_dir": models_dir} if model else None
    return {"name": name, "source": "rtsp://127.0.0.1:9/x", "inference": inference}


async def test_snapshot_of_an_unknown_camera_is_not_supported(tmp_path: Path) -> None:
    with pytest.raises(NotSupported, match="no camera named 'south'"):
        await driver(tmp_path, [cam("north")]).snapshot("south")


async def test_snapshot_while_the_driver_is_not_running_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="not running"):
        await driver(tmp_path, [cam("north")]).snapshot("north")


async def test_update_of_a_model_no_camera_runs_is_not_supported(tmp_path: Path) -> None:
    d = driver(tmp_path, [cam("north", "blob-detector"), cam("south")])
    assert d.cameras_using("blob-detector") == ["north"]
    with pytest.raises(NotSupported, match="no camera runs model 'yolo'"):
        await d.update_model("yolo", tmp_path / "m.onnx", tmp_path / "manifest.yaml")


async def test_update_refused_when_cameras_disagree_on_the_models_dir(tmp_path: Path) -> None:
    d = driver(tmp_path, [cam("a", "blob-detector", str(tmp_path / "x")), cam("b", "blob-detector")])
    with pytest.raises(NotSupported, match=r"different inference\.models_dir"):
        await d.update_model("blob-detector", tmp_path / "m.onnx", tmp_path / "manifest.yaml")
    assert not (tmp_path / "x").exists()
