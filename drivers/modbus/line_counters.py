"""What happened on a bus, per unit id: the evidence for blaming the right device.

A late or stray frame is counted on the unit that sent it (the id in the frame), not on the
device whose request happened to be waiting, so a slow meter never makes its neighbours look bad.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from agent.records import JsonValue

# Frames with no believable unit id (noise, a corrupted first byte) are kept under this key.
NO_UNIT = -1


@dataclass
class UnitCounters:
    timeouts: int = 0  # attempts with no matching reply in time
    crc_errors: int = 0  # frames that failed their CRC
    mismatched: int = 0  # frames that answered no pending request: late, another function, wrong size
    exceptions: int = 0  # well-formed Modbus exception replies
    retries: int = 0  # attempts sent again after a timeout (reads only)

    def as_json(self) -> dict[str, JsonValue]:
        return dict(asdict(self))


@dataclass
class LineCounters:
    units: dict[int, UnitCounters] = field(default_factory=dict)

    def of(self, unit: int) -> UnitCounters:
        counters = self.units.get(unit)
        if counters is None:
            counters = self.units[unit] = UnitCounters()
        return counters

    def frame_unit(self, unit: int) -> UnitCounters:
        """The counters of the unit a frame claims to come from (1..247), else ``NO_UNIT``'s."""
        return self.of(unit if 1 <= unit <= 247 else NO_UNIT)

    def totals(self) -> dict[str, JsonValue]:
        total = UnitCounters()
        for counters in self.units.values():
            for name, value in asdict(counters).items():
                setattr(total, name, getattr(total, name) + value)
        return total.as_json()
