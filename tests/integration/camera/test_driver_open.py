"""Opening the camera driver with a model that is missing or corrupt fails with a typed error
naming the problem, and leaves no capture thread or session behind."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from agent.errors import ModelError
from drivers.base import DriverContext
from drivers.camera.config import CameraDriverConfig
from drivers.camera.driver import CameraDriver
from tests.integration.camera.blob_model import write_blob_model

pytestmark = pytest.mark.camera


def _driver(tmp_path: Path, model: str, models: Path) -> CameraDriver:
    config = CameraDriverConfig.model_validate(
        {
            "name": "cams",
            "driver": "camera",
            "cameras": [
                {"name": "ok", "source": str(tmp_path / "none.avi")},
                {"name": "bad", "source": str(tmp_path / "none.avi"),
                 "inference": {"model": model, "models_dir": str(models)}},
            ],
        }
    )
    return CameraDriver(config, DriverContext("gw", tmp_path, tmp_path, logging.getLogger("t")))


def _capture_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.endswith(".capture")]


async def test_missing_model_is_a_model_error(tmp_path: Path) -> None:
    driver = _driver(tmp_path, "nosuchmodel", tmp_path / "models")
    with pytest.raises(ModelError, match="nosuchmodel"):
        async with driver:
            pass
    assert driver.workers == {} and _capture_threads() == []


async def test_tampered_model_fails_its_checksum(tmp_path: Path) -> None:
    models = tmp_path / "models"
    folder = write_blob_model(models)
    (folder / "blob.onnx").write_bytes((folder / "blob.onnx").read_bytes() + b"\0")
    with pytest.raises(ModelError, match="sha256"):
        await _driver(tmp_path, "blob", models).open()
    assert _capture_threads() == []
