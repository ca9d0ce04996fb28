"""Self-test of a freshly loaded model on a sample frame (bundled image or a synthetic one)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from drivers.camera.inference.detection import Detection
from drivers.camera.inference.errors import SelfTestFailed
from drivers.camera.inference.runner import ModelRunner


def synthetic_frame(width: int, height: int) -> npt.NDArray[np.uint8]:
    """Deterministic frame, 1.5x the input width so letterboxing is exercised too."""
    rng = np.random.default_rng(20240601)
    frame = rng.integers(0, 256, size=(height, max(1, (width * 3) // 2), 3), dtype=np.uint8)
    cv2.rectangle(frame, (width // 4, height // 4), (width // 2, height // 2), (255, 255, 255), -1)
    return frame


def sample_frame(runner: ModelRunner) -> npt.NDArray[np.uint8]:
    image = runner.manifest.self_test.image
    if image is None:
        return synthetic_frame(runner.manifest.input.width, runner.manifest.input.height)
    path = runner.loaded.folder / image
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        where, shown = runner.loaded.where("self_test", "image"), runner.loaded.shown(path)
        raise SelfTestFailed(f"{where}: cannot read sample image {shown}")
    return np.asarray(frame, dtype=np.uint8)


def _sane(det: Detection, width: int, height: int, labels: list[str]) -> bool:
    coords = (det.x1, det.y1, det.x2, det.y2, det.score)
    return (
        all(math.isfinite(v) for v in coords)
        and 0 <= det.x1 <= det.x2 <= width
        and 0 <= det.y1 <= det.y2 <= height
        and 0 <= det.class_id < len(labels)
    )


def run_self_test(runner: ModelRunner) -> list[Detection]:
    """The output must decode without error, fit the decoder's shape and give sane boxes. Raises SelfTestFailed."""
    frame = sample_frame(runner)
    params = runner.default_params()
    loose = type(params)(confidence=1e-6, iou=params.iou, labels=params.labels)  # see every candidate
    detections = runner.infer([frame], [loose])[0]
    height, width = frame.shape[:2]
    bad = [d for d in detections if not _sane(d, width, height, runner.labels)]
    if bad:
        raise SelfTestFailed(f"model {runner.name}: self-test decoded impossible detections, e.g. {bad[0]}")
    expected = runner.manifest.self_test.expect_label
    if expected is not None:
        top = max(detections, key=lambda d: d.score, default=None)
        if top is None or top.label != expected:
            got = "nothing" if top is None else f"{top.label!r} ({top.score:.2f})"
            where = runner.loaded.where("self_test", "expect_label")
            raise SelfTestFailed(f"{where}: expected {expected!r}, got {got}")
    return detections
