"""A small multi-object tracker: greedy IoU or centroid matching, one label per track.

Good enough for counting and dwell on a pole camera at a few detections per second; it is not
a re-identification tracker. Detections only match tracks of the same label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from drivers.camera.analytics.geometry import XY, Box, iou


@dataclass
class Track:
    track_id: int
    label: str
    box: Box
    score: float
    first_seen: float
    last_seen: float
    hits: int = 1
    previous_centre: XY | None = None  # centre before the last update, for line crossings
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def centre(self) -> XY:
        return self.box.centre


@dataclass(frozen=True, slots=True)
class Observation:
    """One detection, normalised to the frame."""

    label: str
    box: Box
    score: float


class Tracker:
    def __init__(
        self,
        method: Literal["iou", "centroid"] = "iou",
        min_iou: float = 0.2,
        max_distance: float = 0.15,
        max_missed_s: float = 2.0,
    ) -> None:
        self.method = method
        self.min_iou = min_iou
        self.max_distance = max_distance
        self.max_missed_s = max_missed_s
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def _affinity(self, track: Track, obs: Observation) -> float | None:
        """Higher is better; None when the pair must not match."""
        if track.label != obs.label:
            return None
        if self.method == "iou":
            overlap = iou(track.box, obs.box)
            return overlap if overlap >= self.min_iou else None
        (tx, ty), (ox, oy) = track.centre, obs.box.centre
        distance = math.hypot(tx - ox, ty - oy) / math.sqrt(2.0)
        return -distance if distance <= self.max_distance else None

    def update(self, observations: list[Observation], now: float) -> tuple[list[Track], list[Track]]:
        """Match ``observations`` at monotonic time ``now``. Returns (tracks seen now, tracks dropped)."""
        pairs: list[tuple[float, int, int]] = []
        for track_id, track in self.tracks.items():
            for index, obs in enumerate(observations):
                affinity = self._affinity(track, obs)
                if affinity is not None:
                    pairs.append((affinity, track_id, index))
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        matched_tracks: set[int] = set()
        matched_obs: set[int] = set()
        seen: list[Track] = []
        for _, track_id, index in pairs:
            if track_id in matched_tracks or index in matched_obs:
                continue
            matched_tracks.add(track_id)
            matched_obs.add(index)
            track, obs = self.tracks[track_id], observations[index]
            track.previous_centre = track.centre
            track.box, track.score, track.last_seen = obs.box, obs.score, now
            track.hits += 1
            seen.append(track)
        for index, obs in enumerate(observations):
            if index not in matched_obs:
                track = Track(self._next_id, obs.label, obs.box, obs.score, now, now)
                self._next_id += 1
                self.tracks[track.track_id] = track
                seen.append(track)
        dropped = [t for t in self.tracks.values() if now - t.last_seen > self.max_missed_s]
        for track in dropped:
            del self.tracks[track.track_id]
        return seen, dropped
