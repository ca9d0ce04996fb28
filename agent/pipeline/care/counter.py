"""A counter point cut into intervals: how much it rose in each, and when that cannot be known.

Only good numeric readings count. Between two of them the counter's rise is attributed to the
interval being filled; the interval closes at the first reading ``interval_s`` or more after it
opened and is classified:

- ``FLOW``: the counter rose, by at least ``min_flow_per_h`` per hour of the interval;
- ``NO_FLOW``: it did not (a rise below the minimum, such as a drip or a meter's creep, is no flow);
- ``UNKNOWN``: the readings cannot say. Two readings further apart than ``interval_s`` (the device
  was offline, the agent stopped, a reading was stale or bad) leave what happened between them
  unknown; so does a drop that is not a wrap (the meter was replaced or reset), and a reading older
  than the one before (the wall clock was set back). The interval in progress is dropped and a new
  one starts at that reading. Across a gap, a rise at ``min_flow_per_h`` or more on average proves
  some use in it: that interval is ``UNKNOWN`` with ``used`` set.

A drop is a wrap when ``wrap`` is set and going round the dial explains it with a rise of less than
half the dial; otherwise it is a replacement.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    FLOW = "flow"
    NO_FLOW = "no_flow"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Interval:
    outcome: Outcome
    start: float
    end: float
    volume: float = 0.0
    reason: str | None = None  # why UNKNOWN: gap | counter_reset | clock_back
    used: bool = False  # UNKNOWN across a gap in which the counter rose at the minimum flow or more


# a float totaliser may read a hair lower than before without having gone backwards
_JITTER = 1e-9


@dataclass(slots=True)
class CounterTrack:
    """What is known of one counter: its last good reading and the interval being filled."""

    last_ts: float | None = None
    last_value: float | None = None
    opened: float | None = None  # when the interval being filled started
    volume: float = 0.0  # how much the counter rose in it

    def feed(self, ts: float, value: float, interval_s: float, min_flow_per_h: float,
             wrap: float | None = None) -> Interval | None:
        """Take one good reading; return the interval it closed, if any."""
        last_ts, last_value = self.last_ts, self.last_value
        if last_ts is None or last_value is None or self.opened is None:
            self._restart(ts, value)
            return None
        if ts == last_ts:
            return None  # the same read twice
        if ts < last_ts:
            return self._unknown(ts, value, "clock_back")
        delta: float | None = value - last_value
        if delta is not None and delta < 0:
            delta = _wrapped(last_value, value, wrap)
        if delta is None:
            return self._unknown(ts, value, "counter_reset")
        gap = ts - last_ts
        if gap > interval_s:
            used = delta > 0 and delta * 3600.0 / gap >= min_flow_per_h
            return self._unknown(ts, value, "gap", used=used, volume=delta)
        self.volume += delta
        self.last_ts, self.last_value = ts, value
        if ts - self.opened < interval_s:
            return None
        start, volume = self.opened, self.volume
        self.opened, self.volume = ts, 0.0
        flowing = volume > 0 and volume * 3600.0 / (ts - start) >= min_flow_per_h
        return Interval(Outcome.FLOW if flowing else Outcome.NO_FLOW, start, ts, volume)

    def _restart(self, ts: float, value: float) -> None:
        self.last_ts, self.last_value, self.opened, self.volume = ts, value, ts, 0.0

    def _unknown(self, ts: float, value: float, reason: str, used: bool = False, volume: float = 0.0) -> Interval:
        start = self.opened if self.opened is not None and self.opened <= ts else ts
        self._restart(ts, value)
        return Interval(Outcome.UNKNOWN, start, ts, volume, reason=reason, used=used)


def _wrapped(last: float, value: float, wrap: float | None) -> float | None:
    """The rise a drop from ``last`` to ``value`` stands for, or None for a replaced/reset meter."""
    if last - value <= _JITTER * max(1.0, abs(last)):
        return 0.0
    if wrap is None:
        return None
    rise = wrap - last + value
    return rise if 0 <= rise < wrap / 2 else None
