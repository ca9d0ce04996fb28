"""Report-by-exception: drop readings that moved less than their deadband, but never go silent."""

from __future__ import annotations

from dataclasses import dataclass

from agent.records import Quality, Reading


@dataclass(slots=True)
class _LastReported:
    value: object
    quality: Quality
    ts: float


class DeadbandFilter:
    """Decides per (device, point) whether a reading is worth sending upstream.

    A reading passes when it is the first, its quality changed, it left the deadband around the last
    *reported* value (so slow drift still gets reported), a non-numeric value changed, or the point has
    been silent for its heartbeat interval.
    """

    def __init__(self, default_heartbeat_s: float) -> None:
        self.default_heartbeat_s = default_heartbeat_s
        self._deadband: dict[tuple[str, str], float] = {}
        self._heartbeat: dict[tuple[str, str], float] = {}
        self._last: dict[tuple[str, str], _LastReported] = {}

    def configure(self, device: str, point: str, deadband: float | None, heartbeat_s: float | None) -> None:
        key = (device, point)
        if deadband is not None:
            self._deadband[key] = deadband
        else:
            self._deadband.pop(key, None)
        if heartbeat_s is not None:
            self._heartbeat[key] = heartbeat_s
        else:
            self._heartbeat.pop(key, None)

    def passes(self, reading: Reading) -> bool:
        key = (reading.device, reading.point)
        band = self._deadband.get(key)
        if band is None:
            return True  # no deadband: every reading is reported, nothing to remember (the hot path)
        last = self._last.get(key)
        if last is None:
            self._last[key] = _LastReported(reading.value, reading.quality, reading.ts)
            return True
        if self._changed(key, band, last, reading):
            last.value, last.quality, last.ts = reading.value, reading.quality, reading.ts
            return True
        return False

    def _changed(self, key: tuple[str, str], band: float, last: _LastReported, reading: Reading) -> bool:
        if reading.quality is not last.quality:
            return True
        if reading.ts - last.ts >= self._heartbeat.get(key, self.default_heartbeat_s):
            return True
        new, old = reading.value, last.value
        numeric = (int, float)
        if isinstance(new, numeric) and isinstance(old, numeric) and not isinstance(new, bool) and not isinstance(
            old, bool
        ):
            return abs(new - old) > band
        return bool(new != old)

    def forget(self, device: str) -> None:
        """Drop everything known about a device (removed by a reload; its next reading is reported in full)."""
        for table in (self._last, self._deadband, self._heartbeat):
            for key in [k for k in table if k[0] == device]:
                del table[key]
