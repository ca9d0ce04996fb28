"""SessionPool: shared sessions, batching across cameras, per-camera thresholds, release and close."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.errors import BadFrame, PoolClosed
from drivers.camera.inference.pool import SessionPool
from tests.unit.inference.graphs import blob_model_bytes, constant_outputs_model, manifest_dict, write_model


@pytest.fixture
def models(tmp_path: Path) -> Path:
    blob = blob_model_bytes()
    write_model(tmp_path / "blob", blob, manifest_dict(blob, name="blob", labels=["blob"], decoder={"type": "yolov8"}))
    table = np.array([[32, 32, 8, 8, 0.6, 0.0]], dtype=np.float32).T[np.newaxis]
    const = constant_outputs_model({"output0": table})
    write_model(tmp_path / "const", const, manifest_dict(const, name="const"))
    return tmp_path


def frame_with_blob(x: int, y: int, w: int, h: int) -> np.ndarray:
    frame = np.zeros((240, 320, 3), np.uint8)
    cv2.rectangle(frame, (x, y), (x + w - 1, y + h - 1), (255, 255, 255), -1)
    return frame


async def test_cameras_share_one_session_and_get_their_own_boxes(models: Path) -> None:
    pool = SessionPool(models_dir=models)
    config = InferenceConfig(model="blob", batch_window_ms=100.0, max_batch=4)
    cam1, cam2 = await pool.acquire(config), await pool.acquire(config)
    try:
        assert cam1.runner is cam2.runner
        assert pool.status()["blob"]["cameras"] == 2
        for _ in range(3):
            got1, got2 = await asyncio.gather(
                cam1.detect(frame_with_blob(40, 40, 80, 40)), cam2.detect(frame_with_blob(200, 120, 40, 80))
            )
            assert [(d.x1, d.y1, d.x2, d.y2) for d in got1] == [(40.0, 40.0, 120.0, 80.0)]
            assert [(d.x1, d.y1, d.x2, d.y2) for d in got2] == [(200.0, 120.0, 240.0, 200.0)]
        status = pool.status()["blob"]
        assert status["frames"] == 6 and status["errors"] == 0
        # two cameras, a 100 ms window and both requests queued in the same loop tick: batched
        assert status["avg_batch"] > 1.0
    finally:
        await pool.close()


async def test_per_camera_confidence_on_a_shared_session(models: Path) -> None:
    pool = SessionPool(models_dir=models)
    strict = await pool.acquire(InferenceConfig(model="const", confidence=0.7))
    loose = await pool.acquire(InferenceConfig(model="const", confidence=0.5))
    only_b = await pool.acquire(InferenceConfig(model="const", classes=["b"]))
    try:
        assert strict.runner is loose.runner is only_b.runner
        frame = np.zeros((64, 64, 3), np.uint8)
        assert await strict.detect(frame) == []
        assert [d.label for d in await loose.detect(frame)] == ["a"]
        assert await only_b.detect(frame) == []
    finally:
        await pool.close()


async def test_release_closes_the_session_with_its_last_user(models: Path) -> None:
    pool = SessionPool(models_dir=models)
    first = await pool.acquire(InferenceConfig(model="blob"))
    second = await pool.acquire(InferenceConfig(model="blob"))
    other_threads = await pool.acquire(InferenceConfig(model="blob", intra_op_threads=1))
    assert other_threads.runner is not first.runner  # different session options: own session
    await pool.release(first)
    assert pool.status()["blob"]["cameras"] == 1
    assert pool.status()["blob#2"]["cameras"] == 1
    assert await second.detect(frame_with_blob(0, 0, 10, 10))
    with pytest.raises(PoolClosed):
        await first.detect(frame_with_blob(0, 0, 10, 10))
    await pool.release(second)
    await pool.release(other_threads)
    assert pool.models() == []
    await pool.close()


async def test_bad_frame_is_refused_before_reaching_the_worker(models: Path) -> None:
    pool = SessionPool(models_dir=models)
    cam = await pool.acquire(InferenceConfig(model="blob"))
    try:
        with pytest.raises(BadFrame):
            await cam.detect(np.zeros((10, 10), np.uint8))
        assert await cam.detect(frame_with_blob(10, 10, 20, 20))
    finally:
        await pool.close()


async def test_a_cancelled_request_does_not_break_the_worker(models: Path) -> None:
    pool = SessionPool(models_dir=models)
    cam = await pool.acquire(InferenceConfig(model="blob"))
    try:
        task = asyncio.create_task(cam.detect(frame_with_blob(10, 10, 20, 20)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (det,) = await cam.detect(frame_with_blob(10, 10, 20, 20))
        assert (det.x1, det.y2) == (10.0, 30.0)
    finally:
        await pool.close()
    with pytest.raises(PoolClosed):
        await pool.acquire(InferenceConfig(model="blob"))


async def test_batches_never_exceed_max_batch(models: Path) -> None:
    pool = SessionPool(models_dir=models)
    config = InferenceConfig(model="blob", max_batch=2)
    cams = [await pool.acquire(config) for _ in range(5)]
    try:
        boxes = [(10 * i, 10, 20, 20) for i in range(5)]
        results = await asyncio.gather(*(cam.detect(frame_with_blob(*b)) for cam, b in zip(cams, boxes, strict=True)))
        assert [(r[0].x1, r[0].y1) for r in results] == [(float(b[0]), 10.0) for b in boxes]
        status = pool.status()["blob"]
        assert status["frames"] == 5 and status["batches"] >= 3 and status["avg_batch"] <= 2
    finally:
        await pool.close()


async def test_requests_after_close_fail_instead_of_hanging(models: Path) -> None:
    pool = SessionPool(models_dir=models)
    cam = await pool.acquire(InferenceConfig(model="blob"))
    served = asyncio.create_task(cam.detect(frame_with_blob(0, 0, 10, 10)))
    await asyncio.sleep(0)  # handed over before the close
    await pool.close()
    assert len(await served) == 1
    with pytest.raises(PoolClosed):
        await cam.detect(frame_with_blob(0, 0, 10, 10))
