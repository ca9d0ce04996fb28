from __future__ import annotations

import base64

import cv2
import numpy as np

from agent.records import Event
from drivers.camera.config import SnapshotConfig
from drivers.camera.snapshot import MaskedImage, encode_capped, make_snapshot
from tests.unit.camera.dets import Det

W, H = 320, 192




def textured() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)  # noise: compresses badly


def event(kind: str = "illegal_parking") -> Event:
    return Event("cam1", kind, ts=100.0, data={"event_id": "abc123"})


def decode(snapshot: Event) -> np.ndarray:
    jpeg = base64.b64decode(str(snapshot.data["jpeg_b64"]))
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_disabled_by_default_means_no_snapshot() -> None:
    assert make_snapshot(textured(), [], SnapshotConfig(), event()) is None


def test_only_listed_event_kinds_and_never_a_snapshot_of_a_snapshot() -> None:
    config = SnapshotConfig(enabled=True, events=["illegal_parking"])
    assert make_snapshot(textured(), [], config, event("zone_count_high")) is None
    assert make_snapshot(textured(), [], config, event("snapshot")) is None
    assert make_snapshot(textured(), [], config, event()) is not None


def test_privacy_region_filled_and_linked_to_event() -> None:
    region = [(0.5, 0.0), (1.0, 0.0), (1.0, 0.5), (0.5, 0.5)]
    config = SnapshotConfig(enabled=True, jpeg_quality=95, max_bytes=500_000, privacy_regions=[region])
    image = np.full((H, W, 3), 180, np.uint8)
    snapshot = make_snapshot(image, [], config, event())
    assert snapshot is not None
    assert snapshot.kind == "snapshot" and snapshot.device == "cam1" and snapshot.ts == 100.0
    assert snapshot.data["event_id"] == "abc123" and snapshot.data["event_kind"] == "illegal_parking"
    out = decode(snapshot)
    assert int(out[2 : H // 2 - 2, W // 2 + 2 : W - 2].max()) <= 8  # filled black
    assert int(np.median(out[H // 2 + 4 :, :])) == 180  # the rest untouched
    assert image.min() == 180  # the camera's own frame is not modified


def checkerboard() -> np.ndarray:
    """Grey 4x4-pixel squares: sharp detail that survives JPEG but not pixelation."""
    ys, xs = np.mgrid[0:H, 0:W]
    grey = np.where(((xs // 4) + (ys // 4)) % 2 == 0, 30, 220).astype(np.uint8)
    return np.repeat(grey[:, :, np.newaxis], 3, axis=2)


def test_persons_pixelated_cars_not() -> None:
    image = checkerboard()
    person = Det("person", 40, 40, 100, 160)
    car = Det("car", 200, 40, 300, 160)
    config = SnapshotConfig(enabled=True, jpeg_quality=100, max_bytes=1_000_000)
    snapshot = make_snapshot(image, [person, car], config, event())
    assert snapshot is not None and snapshot.data["blurred"] == 1
    out = decode(snapshot).astype(int)

    def error(x1: int, y1: int, x2: int, y2: int) -> float:
        return float(np.abs(out[y1:y2, x1:x2] - image[y1:y2, x1:x2].astype(int)).mean())

    assert error(40, 40, 100, 160) > 40  # noise replaced by coarse blocks
    assert error(200, 40, 300, 160) < 10  # only JPEG loss


def test_size_cap_respected_by_lowering_quality_then_scale() -> None:
    config = SnapshotConfig(enabled=True, jpeg_quality=95, max_bytes=8_000)
    snapshot = make_snapshot(textured(), [], config, event())
    assert snapshot is not None
    size = len(base64.b64decode(str(snapshot.data["jpeg_b64"])))
    assert size == snapshot.data["bytes"] and size <= 8_000
    assert int(snapshot.data["width"]) < W  # noise at full size never fits 8 kB: it had to shrink
    assert decode(snapshot).shape[1] == snapshot.data["width"]


def test_impossible_cap_gives_none() -> None:
    assert encode_capped(MaskedImage(textured()), 90, 100) is None
