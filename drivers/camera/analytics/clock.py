"""Scene time: the time the camera actually watched.

Analytics measures durations (dwell, the grace before a missed track is dropped) on this clock, not on
the monotonic one. Between two analysed frames at most ``max_gap_s`` counts as watched; the rest of a
longer gap (a stalled, reconnecting or dead stream, a failing model) is time nobody saw. Through it
tracks and dwell timers stand still: a car parked through an outage is still parked when the stream
returns, with the dwell it had plus at most ``max_gap_s``, and nothing is cleared or raised while
nobody watches. An aggregate period containing unwatched time is not good: ``stale`` when no frame
at all was analysed in it, ``bad`` (an incomplete count) when some were.
"""

from __future__ import annotations

from agent.records import Quality


class SceneClock:
    def __init__(self, max_gap_s: float) -> None:
        self.max_gap_s = max_gap_s
        self._last: float | None = None  # monotonic time of the last analysed frame (or of the start)
        self._frames = False  # whether any frame was analysed since the start
        self._unwatched_s = 0.0
        self._gaps: list[tuple[float, float]] = []  # monotonic intervals nobody watched, for coverage

    def start(self, mono: float) -> None:
        """Watching begins (before the first frame); a slow first frame is a gap like any other."""
        if self._last is None:
            self._last = mono

    def frame(self, mono: float) -> float:
        """A frame analysed at monotonic ``mono``; returns its scene time."""
        self.start(mono)
        assert self._last is not None
        if mono - self._last > self.max_gap_s:
            begin = self._last + self.max_gap_s
            self._gaps.append((begin, mono))
            self._unwatched_s += mono - begin
        self._last = max(self._last, mono)
        self._frames = True
        return mono - self._unwatched_s

    def quality(self, begin: float, end: float) -> Quality:
        """How well the monotonic period [begin, end] was watched; forgets gaps that ended before ``end``."""
        last = self._last
        if last is None or not self._frames or last < begin:
            return Quality.STALE  # not one frame analysed in the period
        ongoing = [(last + self.max_gap_s, end)] if end - last > self.max_gap_s else []
        unwatched = sum(max(0.0, min(b, end) - max(a, begin)) for a, b in [*self._gaps, *ongoing])
        self._gaps = [(a, b) for a, b in self._gaps if b > end]
        return Quality.GOOD if unwatched <= 0.0 else Quality.BAD
