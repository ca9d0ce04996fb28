from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from drivers.camera.config import MotionConfig
from drivers.camera.motion import MotionDetector

W, H = 320, 192


def scene(x: int | None, noise_seed: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(7)
    image = rng.integers(30, 60, (H, W, 3), dtype=np.uint8)  # the same static texture every time
    if noise_seed is not None:  # sensor noise of a few grey levels
        jitter = np.random.default_rng(noise_seed).integers(-3, 4, image.shape)
        image = np.clip(image.astype(int) + jitter, 0, 255).astype(np.uint8)
    if x is not None:
        cv2.rectangle(image, (x, 60), (x + 40, 100), (255, 255, 255), -1)
    return image


@pytest.mark.parametrize("method", ["diff", "mog2"])
def test_static_scene_is_quiet_and_a_moving_box_is_not(method: str) -> None:
    detector = MotionDetector(MotionConfig(method=method), W, H)  # type: ignore[arg-type]
    assert detector.moved(scene(None, 0))  # first frame: no reference yet, infer once
    quiet = [detector.moved(scene(None, seed)) for seed in range(1, 30)]
    assert not any(quiet[5:])
    moving = [detector.moved(scene(x)) for x in range(20, 200, 20)]
    assert sum(moving) >= len(moving) - 1
    assert detector.last_fraction > 0.002


def test_masked_region_is_ignored() -> None:
    mask: Any = [[0.0, 0.0], [0.8, 0.0], [0.8, 0.7], [0.0, 0.7]]  # covers the box's whole path
    masked = MotionDetector(MotionConfig(masks=[mask]), W, H)
    open_ = MotionDetector(MotionConfig(), W, H)
    for detector in (masked, open_):
        detector.moved(scene(None))
    results = {name: [d.moved(scene(x)) for x in range(20, 200, 20)] for name, d in (("m", masked), ("o", open_))}
    assert not any(results["m"]) and all(results["o"])


def test_small_change_under_min_area_is_not_motion() -> None:
    detector = MotionDetector(MotionConfig(min_area=0.05), W, H)  # 5 % of the picture
    detector.moved(scene(None))
    assert not detector.moved(scene(100))  # a 40x40 box is ~2.7 % of 320x192
