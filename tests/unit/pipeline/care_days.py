"""Compressed days for the care rules: a scripted water meter sampled on a fake clock.

The meter is the simulator's ``ScriptedCounter`` (the same generator ``edgepost simulate`` serves),
sampled at chosen instants; the readings carry those instants as their timestamps, which are the
only clock the care engine reads. A day of readings every minute replays in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.pipeline.care.engine import CareEngine
from agent.records import Event, Quality, Reading
from agent.rules import CareRule, DailyWindow
from drivers.modbus.simulator import CounterSpec, CounterStep, ScriptedCounter

ZONE = "Asia/Shanghai"
DAY0 = datetime(2025, 3, 3, tzinfo=ZoneInfo(ZONE)).timestamp()  # a Monday, local midnight
DEVICE, POINT = "flat-0301", "positive_total"
LITRE = 0.001  # the meter counts m³


def clock(hhmm: str) -> float:
    """Seconds after DAY0's local midnight; hours may pass 24 ("30:00" is 06:00 the next day)."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600.0 + int(minutes) * 60.0


def local(ts: float) -> str:
    """An event time as "d<day> HH:MM" in the site's time zone."""
    moment = datetime.fromtimestamp(ts, ZoneInfo(ZONE))
    day = (moment.date() - datetime.fromtimestamp(DAY0, ZoneInfo(ZONE)).date()).days
    return f"d{day} {moment:%H:%M}"


def meter(*uses: tuple[str, str, float], start: float = 100.0, wrap: float | None = None,
          swaps: Iterable[tuple[str, float]] = ()) -> ScriptedCounter:
    """A totaliser used from/to (clock times) at litres per minute; ``swaps``: (time, new reading)."""
    marks = sorted([(clock(a), "on", lpm) for a, _, lpm in uses] + [(clock(b), "off", 0.0) for _, b, _ in uses]
                   + [(clock(t), "set", value) for t, value in swaps])
    steps: list[CounterStep] = []
    now, rate = 0.0, 0.0
    for at, what, amount in marks:
        if at > now:
            steps.append(CounterStep(seconds=at - now, rate=rate))
            now = at
        if what == "set":
            steps.append(CounterStep(seconds=1e-9, rate=rate, set=amount))
            now += 1e-9
        else:
            rate = amount * LITRE / 60.0 if what == "on" else 0.0
    steps.append(CounterStep(rate=rate))
    return ScriptedCounter(CounterSpec(start=start, script=steps, wrap=wrap))


def rule(kind: str, hours: float, *, window: tuple[str, str] | None = None, quiet: tuple[str, str] | None = None,
         min_flow_lph: float = 0.0, interval_min: float = 15.0, wrap: float | None = None) -> CareRule:
    def span(a: str, b: str) -> DailyWindow:
        return DailyWindow(int(clock(a) // 60), int(clock(b) // 60))

    return CareRule(
        device=DEVICE, point=POINT, kind=kind, hours=hours, interval_s=interval_min * 60.0, timezone=ZONE,
        min_flow_per_h=min_flow_lph * LITRE,
        windows=(span(*window),) if window else (DailyWindow(0, 24 * 60),),
        quiet=(span(*quiet),) if quiet else (), wrap=wrap,
    )


@dataclass
class Replay:
    """Feeds an engine one reading per ``poll_s`` of the meter's script and keeps what it raised."""

    engine: CareEngine
    counter: ScriptedCounter
    poll_s: float = 60.0
    events: list[Event] = field(default_factory=list)
    last_good: float | None = None

    def run(self, start: str, end: str, quality: Callable[[float], Quality | None] = lambda t: Quality.GOOD) -> None:
        """Readings from ``start`` up to and including ``end``; ``quality(t)`` None: no reading (offline)."""
        t, stop = clock(start), clock(end)
        while t <= stop:
            q = quality(t)
            if q is Quality.GOOD:
                self.last_good = self.counter.at(t)
            if q is not None:
                # a stale reading repeats the last value read, as a driver that lost its device would
                value = self.last_good if q is Quality.STALE else None if q is Quality.BAD else self.last_good
                self.events += self.engine.observe(Reading(DEVICE, POINT, value, DAY0 + t, "m³", q))
            t += self.poll_s

    def timeline(self) -> list[tuple[str, str, str]]:
        """(ev, alarm, local time) of every raise and clear."""
        return [(e.kind, str(e.data["alarm"]), local(e.ts)) for e in self.events]


def offline(a: str, b: str, how: Quality | None = None) -> Callable[[float], Quality | None]:
    """No reading (``how`` None) or stale/bad ones from ``a`` up to ``b`` (exclusive)."""
    lo, hi = clock(a), clock(b)
    return lambda t: how if lo <= t < hi else Quality.GOOD
