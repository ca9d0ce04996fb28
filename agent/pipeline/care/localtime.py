"""Daily windows in the site's local time, turned into epoch seconds (DST-safe, through zoneinfo).

A window is a wall-clock stretch of every local day: on the day a DST change happens it is an hour
shorter or longer in real time, and its edges stay at the wall-clock times the config gives.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from agent.rules import DailyWindow


class LocalDays:
    """Answers "how much of [a, b) lies in these windows" and "is this instant in them" for one zone."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)

    def _edge(self, day: date, minutes: int) -> float:
        # wall-clock arithmetic on purpose: 06:00 is 06:00 on the day clocks change too
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return (midnight + timedelta(minutes=minutes)).timestamp()

    def _spans(self, window: DailyWindow, first: date, last: date) -> list[tuple[float, float]]:
        """The window's instances that start on local days ``first`` .. ``last``."""
        spans = []
        day = first
        while day <= last:
            end_day = day if window.end_min > window.start_min else day + timedelta(days=1)
            spans.append((self._edge(day, window.start_min), self._edge(end_day, window.end_min)))
            day += timedelta(days=1)
        return spans

    def _local_date(self, ts: float) -> date:
        return datetime.fromtimestamp(ts, self.zone).date()

    def seconds_inside(self, windows: tuple[DailyWindow, ...], start: float, end: float) -> float:
        """Seconds of [start, end) inside any of ``windows`` (overlapping windows count once)."""
        if end <= start:
            return 0.0
        if any(w.whole_day for w in windows):
            return end - start
        # a window past midnight that started the day before can cover ``start``
        first = self._local_date(start) - timedelta(days=1)
        last = self._local_date(end)
        cuts = sorted(
            (max(a, start), min(b, end))
            for w in windows
            for a, b in self._spans(w, first, last)
            if b > start and a < end
        )
        total, reached = 0.0, start
        for a, b in cuts:
            a = max(a, reached)
            if b > a:
                total += b - a
                reached = b
        return total

    def inside(self, windows: tuple[DailyWindow, ...], ts: float) -> bool:
        if any(w.whole_day for w in windows):
            return True
        day = self._local_date(ts)
        return any(
            a <= ts < b for w in windows for a, b in self._spans(w, day - timedelta(days=1), day)
        )
