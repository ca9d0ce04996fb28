"""Camera driver config: sources, capture, motion gating, analytics geometry, snapshots.

Imported by config validation on every box, so it must stay light: pydantic only, never
cv2/numpy/onnxruntime. All geometry (zones, lines, masks, privacy regions) is given in
normalised frame coordinates, ``[x, y]`` with 0..1 from the top-left corner, so it survives a
change of decode resolution.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drivers.base import DriverConfigBase
from drivers.camera.inference.config import InferenceConfig

Coord = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Coord, Coord]
Polygon = Annotated[list[Point], Field(min_length=3, description="at least 3 [x, y] points, 0..1")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]

SourceKind = Literal["rtsp", "http", "device", "file"]
_DEVICE_PATH = re.compile(r"^/dev/video\d+$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _polygon_area(points: list[Point]) -> float:
    area = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        area += x1 * y2 - x2 * y1
    return abs(area) / 2.0


def _check_polygon(points: list[Point]) -> list[Point]:
    if _polygon_area(points) <= 0.0:
        raise ValueError("polygon has no area (all points on one line)")
    return points


class MotionConfig(_Model):
    """Run the model only when something moves; ``force_every_s`` keeps tracks alive anyway."""

    enabled: bool = True
    method: Literal["diff", "mog2"] = "diff"
    threshold: int = Field(25, ge=1, le=255, description="grey-level change that counts as motion")
    min_area: float = Field(0.002, gt=0.0, le=1.0, description="fraction of the frame that must change")
    analysis_width: int = Field(160, ge=32, le=1920, description="motion runs on a frame this wide")
    masks: list[Polygon] = Field(default_factory=list, description="ignored by motion (trees, clocks)")
    force_every_s: float | None = Field(1.0, gt=0, description="infer at least this often; null: never")

    @field_validator("masks")
    @classmethod
    def _masks_have_area(cls, masks: list[list[Point]]) -> list[list[Point]]:
        return [_check_polygon(m) for m in masks]


class TrackerConfig(_Model):
    method: Literal["iou", "centroid"] = "iou"
    min_iou: float = Field(0.2, gt=0.0, le=1.0)
    max_distance: float = Field(0.15, gt=0.0, le=1.0, description="centroid: fraction of the frame diagonal")
    max_missed_s: float = Field(
        3.0, gt=0, description="a track unseen this long while the camera watches is dropped (outages do not count)"
    )


class ZoneConfig(_Model):
    name: Name
    polygon: Polygon
    classes: list[str] = Field(default_factory=list, description="labels counted here; empty: all")
    dwell_alarm_s: float | None = Field(None, gt=0, description="a track staying longer raises dwell_event")
    dwell_event: Name = "illegal_parking"
    count_alarm_above: int | None = Field(None, ge=0, description="raise count_event when count exceeds")
    count_event: Name = "zone_count_high"
    priority: Literal["alarm", "event"] = "alarm"

    @field_validator("polygon")
    @classmethod
    def _has_area(cls, polygon: list[Point]) -> list[Point]:
        return _check_polygon(polygon)


class LineConfig(_Model):
    """A counting line from ``points[0]`` to ``points[1]``.

    ``directions[0]`` names a crossing from the line's left side to its right (looking from
    points[0] towards points[1], image y pointing down), ``directions[1]`` the opposite.
    """

    name: Name
    points: tuple[Point, Point]
    directions: tuple[Name, Name] = ("in", "out")
    classes: list[str] = Field(default_factory=list, description="labels counted; empty: all")
    emit_events: bool = Field(False, description="an event per crossing besides the periodic counts")

    @model_validator(mode="after")
    def _valid_line(self) -> LineConfig:
        if self.points[0] == self.points[1]:
            raise ValueError("line points must differ")
        if self.directions[0] == self.directions[1]:
            raise ValueError("the two direction names must differ")
        return self


class SnapshotConfig(_Model):
    """Privacy by default: no frame leaves the box unless ``enabled``."""

    enabled: bool = False
    jpeg_quality: int = Field(80, ge=10, le=100)
    max_bytes: int = Field(150_000, ge=2_000, description="the JPEG is re-encoded smaller until it fits")
    privacy_regions: list[Polygon] = Field(default_factory=list, description="always filled black")
    blur_classes: list[str] = Field(default_factory=lambda: ["person", "license_plate"])
    events: list[str] | None = Field(None, description="event kinds that get a snapshot; null: all")

    @field_validator("privacy_regions")
    @classmethod
    def _regions_have_area(cls, regions: list[list[Point]]) -> list[list[Point]]:
        return [_check_polygon(r) for r in regions]


class CameraConfig(_Model):
    name: Name
    source: str | int = Field(
        description="rtsp://..., http(s)://... (MJPEG), /dev/videoN or an index, or a video file path"
    )
    loop: bool = Field(False, description="file sources: start again at the end")
    width: int = Field(640, ge=32, le=7680, description="frames are decoded/resized to this size")
    height: int = Field(360, ge=32, le=4320)
    detect_fps: float = Field(5.0, gt=0, le=120, description="upper bound on inferences per second")
    stall_timeout_s: float = Field(10.0, gt=0, description="no frame this long: offline, reopen")
    reopen_backoff_s: float = Field(1.0, gt=0)
    reopen_backoff_max_s: float = Field(60.0, gt=0)
    motion: MotionConfig = MotionConfig()
    inference: InferenceConfig | None = Field(None, description="null: capture and motion only")
    tracker: TrackerConfig = TrackerConfig()
    zones: list[ZoneConfig] = Field(default_factory=list)
    lines: list[LineConfig] = Field(default_factory=list)
    aggregate_period_s: float = Field(60.0, gt=0, description="zone/line counts become readings this often")
    snapshots: SnapshotConfig = SnapshotConfig()

    @field_validator("source")
    @classmethod
    def _valid_source(cls, source: str | int) -> str | int:
        if isinstance(source, int):
            if source < 0:
                raise ValueError("a device index must be >= 0")
            return source
        if not source.strip():
            raise ValueError("source must not be empty")
        if source.startswith("/dev/") and not _DEVICE_PATH.match(source):
            raise ValueError("a device source must look like /dev/videoN")
        return source

    @property
    def source_kind(self) -> SourceKind:
        return source_kind(self.source)

    @model_validator(mode="after")
    def _consistent(self) -> CameraConfig:
        if self.reopen_backoff_max_s < self.reopen_backoff_s:
            raise ValueError("reopen_backoff_max_s must be >= reopen_backoff_s")
        if self.loop and self.source_kind != "file":
            raise ValueError("loop applies to file sources only")
        names = [z.name for z in self.zones] + [ln.name for ln in self.lines]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"zone/line names must be unique per camera: {', '.join(dupes)}")
        if (self.zones or self.lines) and self.inference is None:
            raise ValueError("zones and lines need an inference model (set inference.model)")
        force = self.motion.force_every_s
        if self.motion.enabled and self.zones and (force is None or force >= self.tracker.max_missed_s):
            raise ValueError(
                "with motion gating and zones, motion.force_every_s must be set and shorter than "
                "tracker.max_missed_s, or a parked (still) object loses its track"
            )
        return self


def source_kind(source: str | int) -> SourceKind:
    if isinstance(source, int) or _DEVICE_PATH.match(source):
        return "device"
    lowered = source.lower()
    if lowered.startswith(("rtsp://", "rtsps://")):
        return "rtsp"
    if lowered.startswith(("http://", "https://")):
        return "http"
    return "file"


class CameraDriverConfig(DriverConfigBase):
    driver: Literal["camera"]
    cameras: list[CameraConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_cameras(self) -> CameraDriverConfig:
        names = [c.name for c in self.cameras]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"camera names must be unique: {', '.join(dupes)}")
        return self
