"""Camera driver config: sources, capture, motion gating, analytics geometry, snapshots.

Imported by config validation on every box, so it must stay light: pydantic only, never
cv2/numpy/onnxruntime. All geometry (zones, lines, masks, privacy regions) is given in
normalised frame coordinates, ``[x, y]`` with 0..1 from the top-left corner, so it survives a
change of decode resolution.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drivers.base import DriverConfigBase
from drivers.camera.inference.config import InferenceConfig

Coord = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Coord, Coord]
Polygon = Annotated[list[Point], Field(min_length=3, description="at least 3 [x, y] points, 0..1")]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]

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
    """Run the model only when something moves; ``force_every_s`` keeps tracks alive anyway.

    Motion is checked on every analysed frame on a small grey copy (``analysis_width`` wide), which costs
    far less than a model run: a still street costs almost no inference.
    """

    enabled: bool = Field(True, description="false: run the model on every analysed frame")
    method: Literal["diff", "mog2"] = Field(
        "diff", description="diff: change against the previous frame; mog2: OpenCV's background model (slower)"
    )
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
    """Follows each detected object from frame to frame, so it is counted once and its dwell is timed."""

    method: Literal["iou", "centroid"] = Field(
        "iou", description="iou: boxes must overlap between frames; centroid: nearest centre (fast objects)"
    )
    min_iou: float = Field(0.2, gt=0.0, le=1.0, description="iou: the least overlap that is the same object")
    max_distance: float = Field(0.15, gt=0.0, le=1.0, description="centroid: fraction of the frame diagonal")
    max_missed_s: float = Field(
        3.0, gt=0, description="a track unseen this long while the camera watches is dropped (outages do not count)"
    )


class ZoneConfig(_Model):
    """A polygon where objects are counted (occupancy and entries per class) and timed.

    An object is inside when the centre of its box is. Readings every ``aggregate_period_s``:
    ``zone.<name>.count.<class>`` (the most objects inside at once) and ``zone.<name>.entries.<class>``.
    """

    name: Name = Field(description="unique per camera (zones and lines together); names the readings")
    polygon: Polygon = Field(description="the zone's outline")
    classes: list[str] = Field(default_factory=list, description="labels counted here; empty: all")
    dwell_alarm_s: float | None = Field(
        None, gt=0, description="an object inside longer than this raises dwell_event (once), then "
        "<dwell_event>_cleared when it leaves; null: no dwell alarm"
    )
    dwell_event: Name = Field("illegal_parking", description="kind of the dwell event")
    count_alarm_above: int | None = Field(
        None, ge=0, description="more objects than this inside raises count_event, <count_event>_cleared when "
        "back at or below; null: no count alarm"
    )
    count_event: Name = Field("zone_count_high", description="kind of the count event")
    priority: Literal["alarm", "event"] = Field(
        "alarm", description="lane of the dwell and count events (alarms are sent first; the _cleared ones are events)"
    )

    @field_validator("polygon")
    @classmethod
    def _has_area(cls, polygon: list[Point]) -> list[Point]:
        return _check_polygon(polygon)


class LineConfig(_Model):
    """A counting line from ``points[0]`` to ``points[1]``; an object crosses it when the centre of its box does.

    ``directions[0]`` names a crossing from the line's left side to its right, as seen looking from
    ``points[0]`` towards ``points[1]`` in the picture; ``directions[1]`` the opposite. A line drawn
    bottom to top: ``directions[0]`` is moving right in the picture. Drawn left to right: moving down.
    Readings every ``aggregate_period_s``: ``line.<name>.<direction>.<class>`` (crossings in the period).
    """

    name: Name = Field(description="unique per camera (zones and lines together); names the readings")
    points: tuple[Point, Point] = Field(description="[[x, y], [x, y]]: where the line starts and ends")
    directions: tuple[Name, Name] = Field(
        ("in", "out"), description="[left-to-right name, right-to-left name], looking from points[0] to points[1]"
    )
    classes: list[str] = Field(default_factory=list, description="labels counted; empty: all")
    emit_events: bool = Field(
        True, description="also send a line_crossing event for each crossing as it happens (and its snapshot "
        "when snapshots are on); false: only the periodic counts"
    )

    @model_validator(mode="after")
    def _valid_line(self) -> LineConfig:
        if self.points[0] == self.points[1]:
            raise ValueError("line points must differ")
        if self.directions[0] == self.directions[1]:
            raise ValueError("the two direction names must differ")
        return self


class SnapshotConfig(_Model):
    """Privacy by default: no frame leaves the box unless ``enabled``.

    With ``enabled``, each event of the camera (zone, line) sends one JPEG of the frame it was seen on,
    on the ``…/snapshots`` topic, linked by ``event_id``. Every picture that leaves the driver (these,
    and ``edgepost camera snapshot``) has the privacy regions filled black and detected persons and
    plates pixelated first.
    """

    enabled: bool = Field(False, description="send a snapshot with events; false: no picture goes upstream")
    jpeg_quality: int = Field(80, ge=10, le=100, description="JPEG quality to start from")
    max_bytes: int = Field(150_000, ge=2_000, description="the JPEG is re-encoded smaller until it fits")
    privacy_regions: list[Polygon] = Field(
        default_factory=list, description="filled black in every picture, snapshots on or off (windows, gardens)"
    )
    blur_classes: list[str] = Field(
        default_factory=lambda: ["person", "license_plate"],
        description="detected objects of these labels are pixelated in every picture",
    )
    events: list[str] | None = Field(
        None, description="event kinds that get a snapshot, e.g. [illegal_parking]; null: all of them"
    )

    @field_validator("privacy_regions")
    @classmethod
    def _regions_have_area(cls, regions: list[list[Point]]) -> list[list[Point]]:
        return [_check_polygon(r) for r in regions]


class CameraConfig(_Model):
    """One camera: where its frames come from, how often they are analysed, and what is counted.

    Checked when the config loads: zones and lines need ``inference``; with motion gating and zones,
    ``motion.force_every_s`` must be shorter than ``tracker.max_missed_s`` (or a parked car, which does
    not move, would lose its track); ``loop`` only for files; zone and line names unique per camera.
    """

    name: Name = Field(description="the device name of the camera's records, unique in the driver")
    source: str | int = Field(
        description="rtsp://..., http(s)://... (MJPEG), /dev/videoN or an index, or a video file path"
    )
    loop: bool = Field(False, description="file sources: start again at the end")
    width: int = Field(640, ge=32, le=7680, description="frames are decoded/resized to this size")
    height: int = Field(360, ge=32, le=4320, description="see width")
    detect_fps: float = Field(
        5.0, gt=0, le=120, description="frames analysed per second at most; the stream's other frames are skipped"
    )
    stall_timeout_s: float = Field(10.0, gt=0, description="no frame this long: offline, reopen")
    reopen_backoff_s: float = Field(1.0, gt=0, description="first wait before reopening a failed source")
    reopen_backoff_max_s: float = Field(60.0, gt=0, description="the wait doubles up to this")
    motion: MotionConfig = Field(MotionConfig(), description="gates the model on motion")
    inference: InferenceConfig | None = Field(None, description="the model; null: capture and motion only")
    tracker: TrackerConfig = Field(TrackerConfig(), description="follows objects between frames")
    zones: list[ZoneConfig] = Field(default_factory=list, description="counting and dwell zones")
    lines: list[LineConfig] = Field(default_factory=list, description="counting lines")
    aggregate_period_s: float = Field(60.0, gt=0, description="zone/line counts become readings this often")
    snapshots: SnapshotConfig = Field(SnapshotConfig(), description="pictures sent with events (off by default)")

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
    """One ``drivers:`` entry holding the box's cameras; cameras that run the same model share its session."""

    driver: Literal["camera"]
    cameras: list[CameraConfig] = Field(min_length=1, description="the cameras")

    @model_validator(mode="after")
    def _unique_cameras(self) -> CameraDriverConfig:
        names = [c.name for c in self.cameras]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"camera names must be unique: {', '.join(dupes)}")
        return self

    def model_users(self, model: str) -> tuple[list[str], Path | None]:
        """The cameras running ``model`` and the ``inference.models_dir`` they load it from (where an
        update of it goes). Raises ``ValueError`` when they name different dirs."""
        users = [c for c in self.cameras if c.inference is not None and c.inference.model == model]
        dirs = {c.inference.models_dir for c in users if c.inference is not None}
        if len(dirs) > 1:
            raise ValueError(f"{self.name}: cameras running {model!r} use different inference.models_dir")
        return [c.name for c in users], dirs.pop() if dirs else None
