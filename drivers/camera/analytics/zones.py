"""Polygon zones: per-class occupancy, entries, dwell alarms and count thresholds."""

from __future__ import annotations

from collections import Counter

from agent.records import Event, Priority, Quality, Reading
from drivers.camera.analytics.events import Stamp, camera_event
from drivers.camera.analytics.geometry import point_in_polygon
from drivers.camera.analytics.tracker import Track
from drivers.camera.config import ZoneConfig


class ZoneMonitor:
    """Follows which tracks are inside one zone. Membership is decided by the box centre.

    Durations use scene time (``Stamp.mono``: monotonic, without the time the camera did not watch), so
    neither a wall-clock step (NTP at boot) nor an outage fakes or clears a dwell alarm.
    """

    def __init__(self, config: ZoneConfig, device: str) -> None:
        self.config = config
        self.device = device
        self._polygon = [(float(x), float(y)) for x, y in config.polygon]
        self._priority = Priority.ALARM if config.priority == "alarm" else Priority.EVENT
        self.entered: dict[int, tuple[float, str]] = {}  # track id -> (monotonic time it entered, label)
        self._dwell_alarmed: set[int] = set()
        self._count_alarmed = False
        self._known_classes: set[str] = set(config.classes)
        self._peak: Counter[str] = Counter()
        self._entries: Counter[str] = Counter()

    def wants(self, label: str) -> bool:
        return not self.config.classes or label in self.config.classes

    def occupancy(self) -> Counter[str]:
        return Counter(label for _, label in self.entered.values())

    def update(self, seen: list[Track], dropped: list[Track], at: Stamp) -> list[Event]:
        events: list[Event] = []
        for track in seen:
            if not self.wants(track.label):
                continue
            inside = point_in_polygon(track.centre, self._polygon)
            if inside and track.track_id not in self.entered:
                self.entered[track.track_id] = (at.mono, track.label)
                self._known_classes.add(track.label)
                self._entries[track.label] += 1
            elif not inside and track.track_id in self.entered:
                events.extend(self._leave(track.track_id, at))
        for track in dropped:
            if track.track_id in self.entered:
                events.extend(self._leave(track.track_id, at))
        for label, count in self.occupancy().items():
            self._peak[label] = max(self._peak[label], count)
        events.extend(self._dwell_events(at))
        events.extend(self._count_events(at.ts))
        return events

    def _leave(self, track_id: int, at: Stamp) -> list[Event]:
        entered, label = self.entered.pop(track_id)
        if track_id not in self._dwell_alarmed:
            return []
        self._dwell_alarmed.discard(track_id)
        return [
            camera_event(
                self.device, f"{self.config.dwell_event}_cleared", at.ts,
                zone=self.config.name, track_id=track_id, label=label, dwell_s=round(at.mono - entered, 3),
            )
        ]

    def _dwell_events(self, at: Stamp) -> list[Event]:
        limit = self.config.dwell_alarm_s
        if limit is None:
            return []
        events: list[Event] = []
        for track_id, (entered, label) in self.entered.items():
            if track_id not in self._dwell_alarmed and at.mono - entered > limit:
                self._dwell_alarmed.add(track_id)
                events.append(
                    camera_event(
                        self.device, self.config.dwell_event, at.ts, self._priority,
                        zone=self.config.name, track_id=track_id, label=label,
                        dwell_s=round(at.mono - entered, 3), limit_s=limit,
                    )
                )
        return events

    def _count_events(self, ts: float) -> list[Event]:
        limit = self.config.count_alarm_above
        if limit is None:
            return []
        count = len(self.entered)
        if count > limit and not self._count_alarmed:
            self._count_alarmed = True
            return [
                camera_event(
                    self.device, self.config.count_event, ts, self._priority,
                    zone=self.config.name, count=count, limit=limit,
                    classes=dict(self.occupancy()),
                )
            ]
        if count <= limit and self._count_alarmed:
            self._count_alarmed = False
            return [
                camera_event(
                    self.device, f"{self.config.count_event}_cleared", ts,
                    zone=self.config.name, count=count, limit=limit,
                )
            ]
        return []

    def aggregate(self, ts: float, quality: Quality = Quality.GOOD) -> list[Reading]:
        """Peak occupancy and entries per class since the last aggregate; then start a new period."""
        now = self.occupancy()
        readings: list[Reading] = []
        for label in sorted(self._known_classes):
            prefix = f"zone.{self.config.name}"
            peak = max(self._peak[label], now[label])
            readings.append(Reading(self.device, f"{prefix}.count.{label}", peak, ts, quality=quality))
            entries = self._entries[label]
            readings.append(Reading(self.device, f"{prefix}.entries.{label}", entries, ts, quality=quality))
        self._peak = Counter(now)
        self._entries = Counter()
        return readings
