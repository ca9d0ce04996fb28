"""Byte layouts in the letter notation of device manuals: ``ABCD`` = byte and word order big.

A is the most significant byte. A value of N registers is written with 2N letters in the order the
bytes travel on the wire: ``CDAB`` swaps the words (word order little), ``BADC`` swaps the bytes in
each register (byte order little), ``DCBA`` both. 64-bit types use eight letters (``GHEFCDAB``),
16-bit ones two (``AB``, ``BA``). ``edgepost profile show`` prints this notation and a profile
accepts it, so what a technician reads can be written back unchanged.
"""

from __future__ import annotations

import string
from typing import Any

__all__ = [
    "LAYOUT_KEYS",
    "check_layout_field",
    "layout_letters",
    "layouts_for",
    "normalise_layout_keys",
    "parse_layout",
]

LAYOUT_KEYS = ("order", "byte_order", "word_order")
_ENDIANS = ("big", "little")


def layout_letters(registers: int, byte_order: str, word_order: str, *, swap_words: bool = True) -> str:
    """Wire order of a value's bytes: ``layout_letters(2, "big", "little") == "CDAB"``."""
    letters = string.ascii_uppercase
    count = min(registers, len(letters) // 2)
    words = [letters[2 * i : 2 * i + 2] for i in range(count)]
    if word_order == "little" and swap_words:
        words.reverse()
    if byte_order == "little":
        words = [word[::-1] for word in words]
    return "".join(words)


def layouts_for(registers: int) -> dict[str, tuple[str, str]]:
    """Every layout a value of ``registers`` registers can have -> (byte_order, word_order)."""
    out: dict[str, tuple[str, str]] = {}
    for byte, word in (("big", "big"), ("big", "little"), ("little", "big"), ("little", "little")):
        out.setdefault(layout_letters(registers, byte, word), (byte, word))  # ABCD, CDAB, BADC, DCBA
    return out


def _looks_like_layout(value: Any) -> bool:
    return isinstance(value, str) and value.lower() not in _ENDIANS and value.isalpha()


def parse_layout(text: str, registers: int | None, type_name: str) -> tuple[str, str]:
    """``"CDAB"`` -> ``("big", "little")`` for a value of ``registers`` registers; ``ValueError`` otherwise."""
    if registers is None:
        raise ValueError(f"a {type_name} value has no byte layout; use byte_order: big|little")
    valid = layouts_for(registers)
    found = valid.get(text.upper())
    if found is None:
        names = ", ".join(valid)
        size = f"{2 * registers} bytes"
        raise ValueError(f"not a byte layout of {type_name} ({size}): expected {names}, or big/little")
    return found


def normalise_layout_keys(data: Any, registers: int | None, type_name: str) -> Any:
    """A point's mapping with letter layouts turned into ``byte_order``/``word_order`` big|little.

    ``order: CDAB`` (or a letter layout under ``byte_order:``/``word_order:``, which names both)
    sets both orders. A layout that is not valid for the type is left in place for the field's own
    validator to refuse at its position; layouts that disagree with each other raise ``ValueError``.
    """
    if not isinstance(data, dict) or not any(_looks_like_layout(data.get(key)) for key in LAYOUT_KEYS):
        return data
    implied: dict[str, tuple[str, str]] = {}
    for key in LAYOUT_KEYS:
        value = data.get(key)
        if isinstance(value, str) and _looks_like_layout(value):
            try:
                implied[key] = parse_layout(value, registers, type_name)
            except ValueError:
                return data  # refused with its position by the field validator
    byte, word = next(iter(implied.values()))
    for key, (b, w) in implied.items():
        if (b, w) != (byte, word):
            first = next(iter(implied))
            raise ValueError(f"{first}: {data[first]} and {key}: {data[key]} name different byte layouts")
    for key, meant in (("byte_order", byte), ("word_order", word)):
        given = data.get(key)
        if given in _ENDIANS and given != meant:
            source = next(iter(implied))
            raise ValueError(f"{source}: {data[source]} means {key} {meant}, but {key} says {given}")
    out = {k: v for k, v in data.items() if k != "order"}
    out["byte_order"], out["word_order"] = byte, word
    return out


def check_layout_field(value: Any, registers: int | None, type_name: str, key: str) -> Any:
    """Field-level check of ``order``/``byte_order``/``word_order``: a clear message for a wrong layout.

    A valid letter layout still here (another key was wrong) becomes its part: ``word_order: CDAB``
    -> ``little``.
    """
    if _looks_like_layout(value):
        byte, word = parse_layout(value, registers, type_name)  # raises the clear error
        return {"byte_order": byte, "word_order": word}.get(key, value)
    if key == "order" and value is not None:
        raise ValueError(f"expected a byte layout such as ABCD or CDAB, got {value!r}")
    return value
