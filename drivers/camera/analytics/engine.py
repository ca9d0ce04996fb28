"""Per-camera analytics: detections in, events and periodic count readings out. Pure Python."""

from __future__ import annotations

from collections.abc import Sequence

from agent.records import Event, Reading
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
        self._next_aggregate = None if start_mono is None else start_mono + config.aggregate_period_s

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
        at = Stamp(ts, ts if mono is None else mono)
        seen, dropped = self.tracker.update(self.observations(detections, width, height), at.mono)
        return self._monitor(seen, dropped, at)

    def expire(self, ts: float, mono: float | None = None) -> list[Event]:
        """Advance time without a new inference (nothing moved): drops stale tracks, checks dwell."""
        at = Stamp(ts, ts if mono is None else mono)
        seen, dropped = self.tracker.update([], at.mono)
        return self._monitor(seen, dropped, at)

    def _monitor(self, seen: list[Track], dropped: list[Track], at: Stamp) -> list[Event]:
        events: list[Event] = []
        for zone in self.zones:
            events.extend(zone.update(seen, dropped, at))
        for line in self.lines:
            events.extend(line.update(seen, dropped, at))
        return events

    def aggregates_due(self, ts: float, mono: float | None = None) -> list[Reading]:
        """Count readings once per ``aggregate_period_s`` of ``mono`` (the first call starts the clock)."""
        now = ts if mono is None else mono
        period = self.config.aggregate_period_s
        if self._next_aggregate is None:
            self._next_aggregate = now + period
            return []
        if now < self._next_aggregate:
            return []
        self._next_aggregate += period * (int((now - self._next_aggregate) // period) + 1)
        return self.flush(ts)

    def flush(self, ts: float) -> list[Reading]:
        readings: list[Reading] = []
        for zone in self.zones:
            readings.extend(zone.aggregate(ts))
        for line in self.lines:
            readings.extend(line.aggregate(ts))
        return readings
