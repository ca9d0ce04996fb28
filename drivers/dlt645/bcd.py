"""BCD values of DL/T 645 data items, as the standard's formats describe them.

A format such as ``XXXXXX.XX`` fixes the digits (8), the decimal places (2) and so the bytes (4):
two digits per byte, the least significant byte first on the wire. A signed item (powers, currents,
power factor) keeps its sign in the top bit of its most significant byte, so its top digit is 0..7.
Letters other than ``X`` (``NNNNNNNNNNNN``, ``YYMMDDWW``, ``hhmmss``) are digit strings: addresses,
meter numbers, dates, returned as the digits they hold.

Decoding is strict: a nibble above 9, a digit beyond the format or a size that is not the format's
raises ``BcdError``; a meter's malformed answer is never turned into a number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

Number = int | float

_NUMBER = re.compile(r"^(X+)(?:\.(X+))?$")
_DIGITS = re.compile(r"^[NYMDWhms]+$")


def _pow10(exponent: int) -> int:
    return int(10**exponent)


class BcdError(ValueError):
    """Bytes that are not a value of the format, or a value the format cannot hold."""


@dataclass(frozen=True)
class DataFormat:
    """A parsed format: ``digits`` in all, ``decimals`` after the point, ``size`` bytes on the wire."""

    text: str
    digits: int
    decimals: int
    kind: Literal["number", "digits"]

    @classmethod
    def parse(cls, text: str) -> DataFormat:
        """``"XXX.X"`` -> 4 digits, 1 decimal, 2 bytes. Raises ``ValueError`` saying what is expected."""
        match = _NUMBER.match(text)
        if match is not None:
            whole, fraction = match.group(1), match.group(2) or ""
            return cls(text, len(whole) + len(fraction), len(fraction), "number")
        if _DIGITS.match(text):
            return cls(text, len(text), 0, "digits")
        raise ValueError(
            f"format {text!r} is not a DL/T 645 format; expected X digits with an optional point "
            "(XXXXXX.XX, XXX.X, XX.XXXX) or a digit string (NNNNNNNNNNNN, YYMMDDWW, hhmmss)"
        )

    @property
    def size(self) -> int:
        return (self.digits + 1) // 2

    def limit(self, signed: bool) -> int:
        """The largest magnitude the format holds, in units of the last digit."""
        if signed and self.digits == 2 * self.size:
            return 8 * _pow10(self.digits - 1) - 1  # the sign bit takes the top digit's high bit
        return _pow10(self.digits) - 1

    def __str__(self) -> str:
        return self.text


def _nibbles(msb_first: bytes) -> str:
    out = []
    for byte in msb_first:
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            raise BcdError(f"byte {byte:02X} is not BCD")
        out.append(f"{high}{low}")
    return "".join(out)


def decode(fmt: DataFormat, raw: bytes, signed: bool = False) -> Number | str:
    """The value of ``raw`` (wire order, offset already removed) in format ``fmt``."""
    if len(raw) != fmt.size:
        raise BcdError(f"{fmt} needs {fmt.size} bytes, got {len(raw)}")
    msb_first = bytearray(reversed(raw))
    negative = False
    if signed and fmt.kind == "number":
        negative = bool(msb_first[0] & 0x80)
        msb_first[0] &= 0x7F
    digits = _nibbles(bytes(msb_first))
    spare = digits[: len(digits) - fmt.digits]  # the pad digit of an odd format
    if spare.strip("0"):
        raise BcdError(f"{digits} has more digits than {fmt}")
    digits = digits[len(spare) :]
    if fmt.kind == "digits":
        return digits
    magnitude = int(digits)
    if negative and magnitude == 0:
        negative = False  # "-0" is zero
    scaled = -magnitude if negative else magnitude
    if fmt.decimals == 0:
        return scaled
    return scaled / _pow10(fmt.decimals)  # int / int rounds once: 1001 / 10 is the double nearest 100.1


def encode(fmt: DataFormat, value: Number | str, signed: bool = False) -> bytes:
    """``value`` as ``fmt`` bytes in wire order (the +0x33 offset is the frame's business)."""
    if fmt.kind == "digits":
        text = str(value)
        if len(text) != fmt.digits or not text.isdigit():
            raise BcdError(f"{value!r} is not {fmt.digits} digits ({fmt})")
        return bytes.fromhex(text.rjust(2 * fmt.size, "0"))[::-1]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BcdError(f"{value!r} is not a number for {fmt}")
    if not math.isfinite(value):
        raise BcdError(f"{value!r} is not a finite number")
    units = int(Decimal(str(value)).scaleb(fmt.decimals).to_integral_value(ROUND_HALF_EVEN))
    if units < 0 and not signed:
        raise BcdError(f"{value} is negative but {fmt} is unsigned here")
    if abs(units) > fmt.limit(signed):
        low = -fmt.limit(signed) if signed else 0
        raise BcdError(f"{value} is outside {fmt} ({_scaled(low, fmt)}..{_scaled(fmt.limit(signed), fmt)})")
    msb_first = bytearray(bytes.fromhex(str(abs(units)).rjust(2 * fmt.size, "0")))
    if units < 0:
        msb_first[0] |= 0x80
    return bytes(reversed(msb_first))


def value_range(fmt: DataFormat, signed: bool) -> tuple[Number, Number]:
    """The lowest and highest values ``fmt`` holds (what a simulator may serve)."""
    high = _scaled(fmt.limit(signed), fmt)
    return (-high if signed else 0, high)


def _scaled(units: int, fmt: DataFormat) -> Number:
    return units if fmt.decimals == 0 else units / _pow10(fmt.decimals)
