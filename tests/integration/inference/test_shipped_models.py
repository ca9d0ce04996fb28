"""The shipped models run end to end through manifest + runner + pool.

``text-direction`` is a real pretrained PP-OCR model read from the rapidocr-onnxruntime wheel;
``blob-detector`` is the generated YOLOv8-shaped demo model committed in models/.
"""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.manifest import load_manifest
from drivers.camera.inference.pool import SessionPool
from drivers.camera.inference.runner import ModelRunner
from drivers.camera.inference.selftest import run_self_test
from drivers.camera.inference.store import BUNDLED_MODELS_DIR, find_manifest

pytestmark = pytest.mark.camera

LINES = ["Main Street 42", "NO PARKING 7-19h", "edgepost pole 0815", "Speed limit 30"]


def text_line(text: str) -> np.ndarray:
    """Black text on white, like a cropped text line handed to the direction classifier."""
    (width, height), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.2, 2)
    image = np.full((height + base + 16, width + 16, 3), 255, dtype=np.uint8)
    cv2.putText(image, text, (8, height + 8), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2, cv2.LINE_AA)
    return image


def test_manifests_of_shipped_models_load() -> None:
    for name in ("text-direction", "blob-detector"):
        path = find_manifest(name, BUNDLED_MODELS_DIR)
        loaded = load_manifest(path)
        runner = ModelRunner.load(loaded)
        assert runner.sha256 == loaded.manifest.sha256
        assert run_self_test(runner) is not None


async def test_text_direction_classifier_tells_upright_from_upside_down() -> None:
    pool = SessionPool()
    model = await pool.acquire(InferenceConfig(model="text-direction", batch_window_ms=50.0))
    try:
        assert model.labels == ["0", "180"]
        upright = [text_line(t) for t in LINES]
        flipped = [cv2.rotate(img, cv2.ROTATE_180) for img in upright]
        results = await asyncio.gather(*(model.detect(f) for f in upright + flipped))
        tops = [r[0].label if r else None for r in results]
        assert tops == ["0"] * len(LINES) + ["180"] * len(LINES)
        height, width = upright[0].shape[:2]
        first = results[0][0]
        assert (first.x1, first.y1, first.x2, first.y2) == (0.0, 0.0, float(width), float(height))
        assert all(r[0].score >= 0.5 for r in results)
    finally:
        await pool.close()


async def test_blob_detector_finds_a_drawn_rectangle_in_frame_pixels() -> None:
    pool = SessionPool()
    model = await pool.acquire(InferenceConfig(model="blob-detector"))
    try:
        frame = np.zeros((360, 640, 3), np.uint8)
        cv2.rectangle(frame, (100, 50), (199, 149), (255, 255, 255), -1)
        (det,) = await model.detect(frame)
        assert (det.label, det.score) == ("blob", 1.0)
        assert (det.x1, det.y1, det.x2, det.y2) == (100.0, 50.0, 200.0, 150.0)
        assert await model.detect(np.zeros((360, 640, 3), np.uint8)) == []
    finally:
        await pool.close()
