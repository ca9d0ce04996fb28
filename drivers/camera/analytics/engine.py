"""Per-camera analytics: detections in, events and periodic count readings out. Pure Python.

Durations run on scene time (``clock.SceneClock``): time without analysed frames does not age tracks
or dwell timers, and aggregate periods that contain such time are published as not good.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.records import Event, Quality, Reading
from drivers.camera.analytics.clock import SceneClock
from drivers.camera.analytics.detection import DetectionLike
from drivers.camera.analytics.events import Stamp
from drivers.camera.analytics.geometry import Box
from drivers.camera.analytics.lines import LineMonitor
from drivers.camera.analytics.tracker import Observation, Track, Tracker
from drivers.camera.analytics.zones import ZoneMonitor
from drivers.camera.config import CameraConfig


class CameraAnalytics:
    def __init__(self, config: CameraConfig, start_mono: float | None = None) -> None:
        self.config = config
        t = config.tracker
        self.tracker = Tracker(t.method, t.min_iou, t.max_distance, t.max_missed_s)
        self.zones = [ZoneMonitor(z, config.name) for z in config.zones]
        self.lines = [LineMonitor(ln, config.name) for ln in config.lines]
        wanted = config.inference.classes if config.inference else None
        self._wanted = set(wanted) if wanted is not None else None
        # A gap up to half the track grace counts as watched: frames arrive far more often than that.
        self.clock = SceneClock(t.max_missed_s / 2.0)
        self._next_aggregate: float | None = None
        self._period_start = 0.0
        if start_mono is not None:
            self._start_period(start_mono)

    def observations(self, detections: Sequence[DetectionLike], width: int, height: int) -> list[Observation]:
        out: list[Observation] = []
        for d in detections:
            if self._wanted is not None and d.label not in self._wanted:
                continue
            box = Box(d.x1 / width, d.y1 / height, d.x2 / width, d.y2 / height)
            out.append(Observation(d.label, box, float(d.score)))
        return out

    def update(
        self, detections: Sequence[DetectionLike], width: int, height: int, ts: float, mono: float | None = None
    ) -> list[Event]:
        """Feed one inferred frame (``width`` x ``height`` pixels) taken at wall time ``ts``.

        ``mono`` (monotonic clock of the same instant) times durations; without it ``ts`` does.
        """
        at = Stamp(ts, self.clock.frame(ts if mono is None else mono))
        seen, dropped = self.tracker.update(self.observations(detections, width, height), at.mono)
        return self._monitor(seen, dropped, at)

    def expire(self, ts: float, mono: float | None = None) -> list[Event]:
        """A frame analysed without a new inference (nothing moved): drops stale tracks, checks dwell.

        Only for a frame the camera delivered: time without frames is not evidence that anything left.
        """
        at = Stamp(ts, self.clock.frame(ts if mono is None else mono))
        seen, dropped = self.tracker.update([], at.mono)
        return self._monitor(seen, dropped, at)

    def _monitor(self, seen: list[Track], dropped: list[Track], at: Stamp) -> list[Event]:
        events: list[Event] = []
        for zone in self.zones:
            events.extend(zone.update(seen, dropped, at))
        for line in self.lines:
            events.extend(line.update(seen, dropped, at))
        return events

    def _start_period(self, mono: float) -> None:
        self.clock.start(mono)
        self._period_start = mono
        self._next_aggregate = mono + self.config.aggregate_period_s

    def aggregates_due(self, ts: float, mono: float | None = None) -> list[Reading]:
        """Count readings once per ``aggregate_period_s`` of ``mono`` (the first call starts the clock),
        good only when the camera watched the whole period."""
        now = ts if mono is None else mono
        period = self.config.aggregate_period_s
        if self._next_aggregate is None:
            self._start_period(now)
            return []
        if now < self._next_aggregate:
            return []
        quality = self.clock.quality(self._period_start, now)
        self._next_aggregate += period * (int((now - self._next_aggregate) // period) + 1)
        self._period_start = now
        return self.flush(ts, quality)

    def flush(self, ts: float, quality: Quality = Quality.GOOD) -> list[Reading]:
        readings: list[Reading] = []
        for zone in self.zones:
            readings.extend(zone.aggregate(ts, quality))
        for line in self.lines:
            readings.extend(line.aggregate(ts, quality))
        return readings
