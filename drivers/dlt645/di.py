"""Data identifiers: what a read asks for. Four bytes in DL/T 645-2007, two in -1997.

Written most significant byte first as the standard's tables do (``02 01 01 00`` is phase A
voltage, ``B611`` its -1997 counterpart) and sent least significant first (``00 01 01 02``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.dlt645.codes import Edition

_HEX = re.compile(r"^(?:0[xX])?([0-9A-Fa-f]{8}|[0-9A-Fa-f]{4})$")


@dataclass(frozen=True)
class DataId:
    value: int
    width: int = 4  # bytes: 4 (2007) or 2 (1997)

    def __post_init__(self) -> None:
        if self.width not in (2, 4):
            raise ValueError(f"a data identifier is 4 bytes (2007) or 2 bytes (1997), not {self.width}")
        if not 0 <= self.value < 1 << (8 * self.width):
            raise ValueError(f"{self.value:#x} does not fit a {self.width}-byte data identifier")

    @classmethod
    def parse(cls, text: str) -> DataId:
        """``"02 01 01 00"``, ``"02010100"``, ``"0x02010100"`` or ``"B611"``. The width follows the digits."""
        if not isinstance(text, str):
            raise ValueError(
                f"data identifier {text!r}: write it as a quoted string such as '02 01 01 00' or 'B611' "
                "(an unquoted 02010100 is read by YAML as the number 2010100)"
            )
        compact = re.sub(r"[\s_-]", "", text)
        match = _HEX.match(compact)
        if match is None:
            raise ValueError(
                f"data identifier {text!r}: expected 8 hex digits (DL/T 645-2007, e.g. '02 01 01 00') "
                "or 4 (DL/T 645-1997, e.g. 'B611')"
            )
        digits = match.group(1)
        return cls(int(digits, 16), len(digits) // 2)

    @classmethod
    def from_wire(cls, raw: bytes) -> DataId:
        return cls(int.from_bytes(raw, "little"), len(raw))

    @property
    def wire(self) -> bytes:
        return self.value.to_bytes(self.width, "little")

    @property
    def edition(self) -> Edition:
        return Edition.V2007 if self.width == 4 else Edition.V1997

    def __str__(self) -> str:
        raw = self.value.to_bytes(self.width, "big")
        return " ".join(f"{b:02X}" for b in raw) if self.width == 4 else raw.hex().upper()
