"""Counting lines: a track whose centre moves across the line segment counts once per crossing."""

from __future__ import annotations

from collections import Counter

from agent.records import Event, Quality, Reading
from drivers.camera.analytics.events import Stamp, camera_event
from drivers.camera.analytics.geometry import XY, segments_intersect, side_of_line
from drivers.camera.analytics.tracker import Track
from drivers.camera.config import LineConfig


class LineMonitor:
    def __init__(self, config: LineConfig, device: str) -> None:
        self.config = config
        self.device = device
        (ax, ay), (bx, by) = config.points
        self._a: XY = (float(ax), float(ay))
        self._b: XY = (float(bx), float(by))
        self._last: dict[int, tuple[float, XY]] = {}  # track id -> (side sign, centre) off the line
        self._known_classes: set[str] = set(config.classes)
        self.counts: Counter[tuple[str, str]] = Counter()  # (direction, label) since last aggregate

    def wants(self, label: str) -> bool:
        return not self.config.classes or label in self.config.classes

    def update(self, seen: list[Track], dropped: list[Track], at: Stamp) -> list[Event]:
        events: list[Event] = []
        for track in dropped:
            self._last.pop(track.track_id, None)
        for track in seen:
            if not self.wants(track.label):
                continue
            centre = track.centre
            side = side_of_line(centre, self._a, self._b)
            if side == 0:
                continue  # on the line: decide once it is off it
            sign = 1.0 if side > 0 else -1.0
            previous = self._last.get(track.track_id)
            self._last[track.track_id] = (sign, centre)
            if previous is None or previous[0] == sign:
                continue
            if not segments_intersect(previous[1], centre, self._a, self._b):
                continue  # changed side beyond the segment's ends
            direction = self.config.directions[0] if sign > 0 else self.config.directions[1]
            self._known_classes.add(track.label)
            self.counts[(direction, track.label)] += 1
            if self.config.emit_events:
                events.append(
                    camera_event(
                        self.device, "line_crossing", at.ts,
                        line=self.config.name, direction=direction, track_id=track.track_id, label=track.label,
                    )
                )
        return events

    def aggregate(self, ts: float, quality: Quality = Quality.GOOD) -> list[Reading]:
        readings = [
            Reading(
                self.device, f"line.{self.config.name}.{direction}.{label}", self.counts[(direction, label)], ts,
                quality=quality,
            )
            for label in sorted(self._known_classes)
            for direction in self.config.directions
        ]
        self.counts = Counter()
        return readings
