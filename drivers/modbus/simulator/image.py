"""The register image of one simulated device: four tables, and which profile point owns each address."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from drivers.modbus.profile import Point, Table


@dataclass
class RegisterImage:
    """Raw table contents (registers, or 0/1 for coil/discrete) plus the address -> point ownership."""

    values: dict[Table, dict[int, int]] = field(default_factory=lambda: {t: {} for t in Table})
    owners: dict[Table, dict[int, str]] = field(default_factory=lambda: {t: {} for t in Table})

    def claim(self, name: str, point: Point) -> None:
        """Make ``point`` own its addresses (the profile loader has already refused overlaps)."""
        table = self.owners[point.table]
        for address in range(point.address, point.address + _width(point)):
            table.setdefault(address, name)

    def covered(self, table: Table, start: int, count: int) -> bool:
        owners = self.owners[table]
        return all(address in owners for address in range(start, start + count))

    def points_in(self, table: Table, start: int, count: int) -> list[str]:
        """Names of the points with at least one address in the range, in address order, once each."""
        owners = self.owners[table]
        seen: dict[str, None] = {}
        for address in range(start, start + count):
            name = owners.get(address)
            if name is not None:
                seen.setdefault(name, None)
        return list(seen)

    def read(self, table: Table, start: int, count: int) -> list[int]:
        values = self.values[table]
        return [values.get(address, 0) for address in range(start, start + count)]

    def store(self, table: Table, start: int, words: Iterable[int]) -> None:
        values = self.values[table]
        for offset, word in enumerate(words):
            values[start + offset] = word


def _width(point: Point) -> int:
    return 1 if point.table.is_bit else point.register_count
