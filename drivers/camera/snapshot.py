"""Every picture that leaves the camera driver is encoded here, and only from a masked frame.

``mask_frame`` is the one way to get a ``MaskedImage`` (privacy regions filled black, detected
persons/plates pixelated) and the encoders accept nothing else, so no path can write or send an
unmasked frame. The paths: event snapshots to MQTT (``make_snapshot``), the daemon's
``camera snapshot`` over the control socket, and the CLI's own grab without a daemon (both
``still_jpeg``).

Event snapshots: nothing leaves the box unless ``snapshots.enabled``. A snapshot is taken only for
an event and is a JPEG under ``max_bytes`` (quality, then scale, is reduced until it fits). It travels
as an ``Event(kind="snapshot")`` whose ``data.event_id`` links it to the event it illustrates; the
uplink publishes kind=snapshot on its own ``snapshots`` topic.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import NewType, cast

import cv2
import numpy as np
import numpy.typing as npt

from agent.logs import log_event
from agent.records import Event, Priority
from drivers.camera.analytics.detection import DetectionLike
from drivers.camera.config import SnapshotConfig

Image = npt.NDArray[np.uint8]
MaskedImage = NewType("MaskedImage", Image)  # privacy regions filled: the only kind of frame that is encoded
SNAPSHOT_KIND = "snapshot"
SNAPSHOT_TOPIC = "snapshots"
_MIN_QUALITY = 20
_PIXEL_BLOCK = 12  # a blurred box keeps at most this many blocks per side

logger = logging.getLogger(__name__)


def fill_privacy_regions(image: Image, regions: Sequence[Sequence[tuple[float, float]]]) -> None:
    height, width = image.shape[:2]
    for polygon in regions:
        pts = np.array([[round(x * width), round(y * height)] for x, y in polygon], dtype=np.int32)
        cv2.fillPoly(image, [pts], (0, 0, 0))


def pixelate_boxes(image: Image, detections: Sequence[DetectionLike], labels: Sequence[str]) -> int:
    """Pixelate the boxes of detections whose label is in ``labels``; returns how many."""
    height, width = image.shape[:2]
    count = 0
    for d in detections:
        if d.label not in labels:
            continue
        x1, y1 = max(0, int(d.x1)), max(0, int(d.y1))
        x2, y2 = min(width, int(np.ceil(d.x2))), min(height, int(np.ceil(d.y2)))
        if x2 <= x1 or y2 <= y1:
            continue
        roi = image[y1:y2, x1:x2]
        small = cv2.resize(roi, (min(_PIXEL_BLOCK, x2 - x1), min(_PIXEL_BLOCK, y2 - y1)), interpolation=cv2.INTER_AREA)
        image[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
        count += 1
    return count


def mask_frame(image: Image, detections: Sequence[DetectionLike], config: SnapshotConfig) -> tuple[MaskedImage, int]:
    """A copy with detected persons/plates pixelated and the privacy regions filled; and how many were."""
    masked = image.copy()
    blurred = pixelate_boxes(masked, detections, config.blur_classes)
    fill_privacy_regions(masked, config.privacy_regions)  # after blurring: regions stay solid
    return MaskedImage(masked), blurred


def _jpeg(masked: MaskedImage, quality: int) -> bytes | None:
    """The driver's only image encoder."""
    ok, buffer = cv2.imencode(".jpg", masked, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return bytes(buffer.tobytes()) if ok else None


def encode_capped(masked: MaskedImage, quality: int, max_bytes: int) -> tuple[bytes, int, float] | None:
    """JPEG bytes under ``max_bytes``, lowering quality then scale. Returns (jpeg, quality, scale)."""
    scale = 1.0
    current = masked
    while min(current.shape[:2]) >= 16:
        q = quality
        while True:
            jpeg = _jpeg(current, q)
            if jpeg is not None and len(jpeg) <= max_bytes:
                return jpeg, q, scale
            if q <= _MIN_QUALITY:
                break
            q = max(_MIN_QUALITY, q - 15)
        scale *= 0.7
        height, width = masked.shape[:2]
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        current = MaskedImage(cast(Image, cv2.resize(masked, size, interpolation=cv2.INTER_AREA)))  # still masked
    return None


def still_jpeg(image: Image, detections: Sequence[DetectionLike], config: SnapshotConfig) -> bytes | None:
    """``edgepost camera snapshot`` (daemon or CLI): the frame masked like an event snapshot.

    The privacy regions apply even with snapshots off (the picture leaves the driver); no size cap,
    since it goes to the local technician, not upstream. None if OpenCV cannot encode it.
    """
    masked, _ = mask_frame(image, detections, config)
    return _jpeg(masked, config.jpeg_quality)


def make_snapshot(
    image: Image, detections: Sequence[DetectionLike], config: SnapshotConfig, event: Event
) -> Event | None:
    """The snapshot event for ``event``, or None when snapshots are off or not wanted for it."""
    if not config.enabled or event.kind == SNAPSHOT_KIND:
        return None
    if config.events is not None and event.kind not in config.events:
        return None
    masked, blurred = mask_frame(image, detections, config)
    encoded = encode_capped(masked, config.jpeg_quality, config.max_bytes)
    if encoded is None:
        log_event(logger, "snapshot_too_large", logging.WARNING, camera=event.device, max_bytes=config.max_bytes)
        return None
    jpeg, quality, scale = encoded
    height, width = masked.shape[:2]
    return Event(
        device=event.device,
        kind=SNAPSHOT_KIND,
        ts=event.ts,
        priority=Priority.EVENT,
        data={
            "event_id": event.data.get("event_id"),
            "event_kind": event.kind,
            "topic": SNAPSHOT_TOPIC,
            "content_type": "image/jpeg",
            "jpeg_b64": base64.b64encode(jpeg).decode("ascii"),
            "bytes": len(jpeg),
            "quality": quality,
            "width": round(width * scale),
            "height": round(height * scale),
            "blurred": blurred,
        },
    )
