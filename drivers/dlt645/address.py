"""Meter addresses: 12 BCD digits as printed on the nameplate, six bytes least significant first on the wire.

``AAAAAAAAAAAA`` is the wildcard address (read-address, and "any meter" in the high bytes of a
shortened address: ``AAAAAA123456``); ``999999999999`` is the broadcast address (time sync, freeze),
which no meter answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TEXT = re.compile(r"^(?:AA|\d\d){6}$")
WILDCARD_BYTE = 0xAA


@dataclass(frozen=True)
class MeterAddress:
    """``digits``: 12 characters, most significant first; a byte may be ``AA`` (any)."""

    digits: str

    def __post_init__(self) -> None:
        if not _TEXT.match(self.digits):
            raise ValueError(
                f"meter address {self.digits!r}: expected 12 digits (the nameplate number), "
                "whole bytes of which may be AA (wildcard)"
            )

    @classmethod
    def parse(cls, text: str | int) -> MeterAddress:
        """``"1"`` -> ``000000000001``: shorter numbers are padded with zeros, as the standard pads them."""
        value = str(text).strip().upper()
        if value.isdigit() and len(value) <= 12:
            value = value.rjust(12, "0")
        return cls(value)

    @classmethod
    def from_wire(cls, raw: bytes) -> MeterAddress:
        """The address of six wire bytes (A0 first). ``ValueError`` when a byte is neither BCD nor AA."""
        if len(raw) != 6:
            raise ValueError(f"an address is 6 bytes, got {len(raw)}")
        for byte in raw:
            if byte != WILDCARD_BYTE and (byte >> 4 > 9 or byte & 0x0F > 9):
                raise ValueError(f"address byte {byte:02X} is neither BCD nor AA")
        return cls("".join(f"{b:02X}" for b in reversed(raw)))

    @property
    def wire(self) -> bytes:
        return bytes.fromhex(self.digits)[::-1]

    @property
    def is_broadcast(self) -> bool:
        return self.digits == "9" * 12

    @property
    def has_wildcard(self) -> bool:
        return "A" in self.digits

    def matches(self, meter: MeterAddress) -> bool:
        """Whether a frame sent to this (possibly wildcard) address is for ``meter``."""
        return all(want in (WILDCARD_BYTE, have) for want, have in zip(self.wire, meter.wire, strict=True))

    def __str__(self) -> str:
        return self.digits


WILDCARD = MeterAddress("A" * 12)
BROADCAST = MeterAddress("9" * 12)
