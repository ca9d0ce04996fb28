"""A serial character's length on the wire, for every protocol's timing on the line."""

from __future__ import annotations


def bits_per_char(parity: str, stopbits: int, bytesize: int = 8) -> int:
    """Start bit + data bits + parity bit (if any) + stop bits."""
    return 1 + bytesize + (0 if parity == "N" else 1) + stopbits
