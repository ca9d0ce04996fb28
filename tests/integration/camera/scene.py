"""A synthetic street scene with known moving objects, written as a real MJPG video file.

Timeline (seconds), frame 320x192, dark grey background:
- 0.0-1.6  car A (red 48x28) drives east along the top half, crossing the ``gate`` line (x = 0.5);
- 2.0-3.0  car B drives east along the bottom and stops inside the ``noparking`` zone;
- 3.0-6.5  car B stays parked (its centre is in the zone from about 2.75 s to 7.0 s);
- 3.2-6.2  a person (green 24x40) walks west along the top, crossing ``gate`` the other way;
- 6.5-7.3  car B drives off east, leaving the zone; the video ends at 7.5 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

WIDTH, HEIGHT = 320, 192
DURATION_S = 7.5
BACKGROUND = 40
RED = (0, 0, 255)  # BGR
GREEN = (0, 255, 0)

GATE = {"name": "gate", "points": [[0.5, 0.5], [0.5, 0.0]], "directions": ["eastbound", "westbound"]}
NOPARKING = {
    "name": "noparking",
    "polygon": [[0.55, 0.55], [0.85, 0.55], [0.85, 0.95], [0.55, 0.95]],
    "classes": ["car"],
    "dwell_alarm_s": 3.0,
}
PARKED_IN_ZONE_S = (2.75, 7.03)  # approximate times car B's centre enters and leaves the zone


def _lerp(t: float, t0: float, t1: float, a: float, b: float) -> float:
    return a + (b - a) * (t - t0) / (t1 - t0)


def objects_at(t: float) -> list[tuple[tuple[int, int, int], int, int, int, int]]:
    """(colour, x1, y1, w, h) of every object visible at time ``t``."""
    out = []
    if t < 1.6:
        out.append((RED, round(_lerp(t, 0.0, 1.6, 10, 262)), 40, 48, 28))
    if 2.0 <= t < 3.0:
        out.append((RED, round(_lerp(t, 2.0, 3.0, 10, 200)), 130, 48, 28))
    elif 3.0 <= t < 6.5:
        out.append((RED, 200, 130, 48, 28))
    elif 6.5 <= t < 7.3:
        out.append((RED, round(_lerp(t, 6.5, 7.3, 200, 272)), 130, 48, 28))
    if 3.2 <= t < 6.2:
        out.append((GREEN, round(_lerp(t, 3.2, 6.2, 290, 10)), 20, 24, 40))
    return out


def render(t: float) -> npt.NDArray[np.uint8]:
    frame = np.full((HEIGHT, WIDTH, 3), BACKGROUND, dtype=np.uint8)
    for colour, x1, y1, w, h in objects_at(t):
        cv2.rectangle(frame, (x1, y1), (x1 + w - 1, y1 + h - 1), colour, thickness=-1)
    return frame


def scene_frames(fps: float) -> Iterator[tuple[float, npt.NDArray[np.uint8]]]:
    for index in range(round(DURATION_S * fps)):
        t = index / fps
        yield t, render(t)


def write_scene(path: Path, fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened(), "OpenCV cannot write MJPG"
    for _, frame in scene_frames(fps):
        writer.write(frame)
    writer.release()
    return path
