"""OTA model update: a good update swaps disk and live session; every bad one keeps the old model."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.records import Priority
from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.errors import OutputMismatch
from drivers.camera.inference.pool import ModelHandle, SessionPool
from drivers.camera.inference.store import find_manifest
from drivers.camera.inference.update import ModelUpdated, ModelUpdateFailed, update_model
from tests.unit.inference.graphs import constant_outputs_model, manifest_dict, write_model

FRAME = np.zeros((64, 64, 3), np.uint8)
Live = tuple[Path, SessionPool, ModelHandle]


def model_for(label_index: int) -> bytes:
    scores = [0.9, 0.0] if label_index == 0 else [0.0, 0.9]
    table = np.array([[32, 32, 8, 8, *scores]], dtype=np.float32).T[np.newaxis]
    return constant_outputs_model({"output0": table})


def candidate(folder: Path, data: bytes, **kwargs: object) -> tuple[Path, Path]:
    manifest = write_model(folder, data, manifest_dict(data, name="m", **kwargs))
    return folder / "model.onnx", manifest


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    models = tmp_path / "models"
    v1 = model_for(0)
    write_model(models / "m", v1, manifest_dict(v1, name="m"))
    pool = SessionPool(models_dir=models)
    handle = await pool.acquire(InferenceConfig(model="m"))
    yield models, pool, handle
    await pool.close()


async def labels(handle: ModelHandle) -> list[str]:
    return [d.label for d in await handle.detect(FRAME)]


async def test_good_update_swaps_disk_and_live_session(tmp_path: Path, live: Live) -> None:
    models, pool, handle = live
    assert await labels(handle) == ["a"]
    v2 = model_for(1)
    model_file, manifest = candidate(tmp_path / "incoming", v2)
    result = await update_model("m", model_file, manifest, models_dir=models, pool=pool)
    assert isinstance(result, ModelUpdated)
    assert result.sha256 == hashlib.sha256(v2).hexdigest() and result.sessions == 1
    assert await labels(handle) == ["b"]
    assert handle.sha256 == result.sha256
    current = models / "m" / "current"
    assert current.is_symlink() and (current / "model.onnx").read_bytes() == v2
    assert find_manifest("m", models) == current / "manifest.yaml"
    event = result.event("cam1")
    assert (event.kind, event.data["sha256"], event.data["model"]) == ("model_updated", result.sha256, "m")
    # a fresh camera (or a restart) loads the updated model from disk too
    other = await pool.acquire(InferenceConfig(model="m", intra_op_threads=1))
    assert other.sha256 == result.sha256


async def test_corrupt_file_keeps_the_old_model(tmp_path: Path, live: Live) -> None:
    models, pool, handle = live
    model_file, manifest = candidate(tmp_path / "incoming", model_for(1))
    model_file.write_bytes(model_file.read_bytes()[:-7])  # truncated in transit
    result = await update_model("m", model_file, manifest, models_dir=models, pool=pool)
    assert isinstance(result, ModelUpdateFailed)
    assert "manifest.yaml sha256" in result.reason and f"does not match {model_file} " in result.reason
    assert not (models / "m" / "current").exists()
    assert await labels(handle) == ["a"]
    event = result.event("cam1")
    assert (event.kind, event.priority, event.data["reason"]) == ("model_update_failed", Priority.ALARM, result.reason)


async def test_garbage_with_a_matching_sha_fails_to_load_and_keeps_the_old_model(
    tmp_path: Path, live: Live
) -> None:
    models, pool, handle = live
    model_file, manifest = candidate(tmp_path / "incoming", b"\x08\x07garbage")
    result = await update_model("m", model_file, manifest, models_dir=models, pool=pool)
    assert isinstance(result, ModelUpdateFailed) and "onnxruntime cannot load" in result.reason
    # named by the user's files, not by the staged copies (deleted by now)
    assert result.reason.startswith(f"{manifest}:") and f"cannot load {model_file}: " in result.reason
    assert ".staging" not in result.reason
    assert await labels(handle) == ["a"]
    assert [p.name for p in (models / "m" / "versions").iterdir()] == []  # staging cleaned up


async def test_failed_self_test_keeps_the_old_model(tmp_path: Path, live: Live) -> None:
    models, pool, handle = live
    first_file, first_manifest = candidate(tmp_path / "first", model_for(0), version="2")
    assert isinstance(await update_model("m", first_file, first_manifest, models_dir=models, pool=pool), ModelUpdated)
    before = os.readlink(models / "m" / "current")
    sample = np.zeros((48, 96, 3), np.uint8)
    (tmp_path / "bad").mkdir()
    cv2.imwrite(str(tmp_path / "bad" / "sample.png"), sample)
    model_file, manifest = candidate(
        tmp_path / "bad", model_for(1), self_test={"image": "sample.png", "expect_label": "a"}
    )
    result = await update_model("m", model_file, manifest, models_dir=models, pool=pool)
    assert isinstance(result, ModelUpdateFailed)
    assert "self_test.expect_label: expected 'a', got 'b'" in result.reason
    assert os.readlink(models / "m" / "current") == before
    assert await labels(handle) == ["a"]


async def test_outputs_not_fitting_the_labels_fail_the_update(
    tmp_path: Path, live: Live
) -> None:
    models, pool, handle = live
    model_file, manifest = candidate(tmp_path / "incoming", model_for(1), labels=["a", "b", "c"])
    result = await update_model("m", model_file, manifest, models_dir=models, pool=pool)
    assert isinstance(result, ModelUpdateFailed) and "yolov8 wants output" in result.reason
    assert await labels(handle) == ["a"]


async def test_manifest_for_another_model_is_refused(tmp_path: Path, live: Live) -> None:
    models, pool, _ = live
    data = model_for(1)
    manifest = write_model(tmp_path / "x", data, manifest_dict(data, name="other"))
    result = await update_model("m", tmp_path / "x" / "model.onnx", manifest, models_dir=models, pool=pool)
    assert isinstance(result, ModelUpdateFailed) and "manifest is for 'other', not 'm'" in result.reason


async def test_repeated_updates_keep_two_versions(tmp_path: Path) -> None:
    models = tmp_path / "models"
    shas = []
    for i in range(4):
        data = model_for(i % 2)  # the same two graphs alternate; version folders are still distinct
        model_file, manifest = candidate(tmp_path / f"in{i}", data, version=str(i))
        result = await update_model("m", model_file, manifest, models_dir=models)
        assert isinstance(result, ModelUpdated) and result.sessions == 0
        shas.append(result.sha256)
    versions = sorted(p.name for p in (models / "m" / "versions").iterdir())
    assert len(versions) == 2
    assert (models / "m" / "current").resolve().name in versions
    assert hashlib.sha256((models / "m" / "current" / "model.onnx").read_bytes()).hexdigest() == shas[-1]


async def test_live_swap_failure_rolls_the_disk_back(
    tmp_path: Path, live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    models, pool, handle = live

    async def refuse(model: str, loaded: object) -> int:
        raise OutputMismatch("simulated: the live session cannot take the new model")

    monkeypatch.setattr(pool, "replace", refuse)
    model_file, manifest = candidate(tmp_path / "incoming", model_for(1))
    result = await update_model("m", model_file, manifest, models_dir=models, pool=pool)
    assert isinstance(result, ModelUpdateFailed) and "simulated" in result.reason
    assert not (models / "m" / "current").exists()
    assert find_manifest("m", models) == models / "m" / "manifest.yaml"
    assert await labels(handle) == ["a"]
