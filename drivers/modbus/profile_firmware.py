"""Firmware version strings ("1.2", "v2.01.3") and inclusive ranges of them."""

from __future__ import annotations

import re

from drivers.modbus.profile import FirmwareRange

_VERSION = re.compile(r"^\s*[vV]?(\d+(?:\.\d+)*)\s*$")

Version = tuple[int, ...]


def parse_version(text: str) -> Version:
    """``"v1.02.3"`` -> ``(1, 2, 3)``. Raises ``ValueError`` for anything that is not dotted numbers."""
    match = _VERSION.match(text)
    if match is None:
        raise ValueError(f"expected a dotted version like 1.2.3, got {text!r}")
    return tuple(int(part) for part in match[1].split("."))


def in_range(firmware: FirmwareRange, version: str) -> bool:
    """Inclusive on both ends; a shorter bound covers its sub-versions (max "1" includes "1.9.2")."""
    parsed = parse_version(version)
    if firmware.min is not None and parsed < parse_version(firmware.min):
        return False
    if firmware.max is not None:
        upper = parse_version(firmware.max)
        if parsed[: len(upper)] > upper:
            return False
    return True


def describe(firmware: FirmwareRange) -> str:
    if firmware.min is None and firmware.max is None:
        return "any firmware"
    if firmware.max is None:
        return f"firmware >= {firmware.min}"
    if firmware.min is None:
        return f"firmware <= {firmware.max}"
    return f"firmware {firmware.min}..{firmware.max}"
