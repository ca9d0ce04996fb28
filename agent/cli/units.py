"""Human units for the status tables, chosen from the key's name: times as "3 min ago", sizes in MiB,
ratios in %, durations in s/min/h. ``--json`` keeps the raw numbers; this is only for the eye."""

from __future__ import annotations

import time

from agent.records import JsonValue

MIB = 1024 * 1024
_TS_SUFFIXES = ("_ts", "_at")
_RATIO_KEYS = ("utilisation", "utilization", "ratio", "share", "load", "fill")


def format_age(seconds: float) -> str:
    """A duration for the eye: "45 s", "3 min", "2.5 h", "3.0 d"."""
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{seconds:.1g} s" if seconds else "0 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def relative_time(ts: float, now: float | None = None) -> str:
    """"3 min ago" for a time behind, "in 20 min" for one ahead (a next-attempt time)."""
    delta = ts - (time.time() if now is None else now)
    if abs(delta) < 1:
        return "just now"
    return f"in {format_age(delta)}" if delta > 0 else f"{format_age(-delta)} ago"


def format_bytes(count: float) -> str:
    if count < 1024:
        return f"{count:.0f} B"
    if count < MIB:
        return f"{count / 1024:.0f} KiB"
    mib = count / MIB
    return f"{mib:.1f} MiB" if mib < 100 else f"{mib:.0f} MiB"


def is_timestamp(key: str, value: JsonValue) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 1e9 and (
        key.endswith(_TS_SUFFIXES) or key == "ts"
    )


def human(key: str, value: JsonValue) -> str | None:
    """``value`` in the unit its key names, or None when the key names none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if is_timestamp(key, value):
        return relative_time(float(value))
    if key.endswith("bytes") or key.startswith("bytes_"):
        return format_bytes(float(value))
    if key.endswith(_RATIO_KEYS) and 0 <= value <= 1.5:
        return f"{value * 100:.0f}%"
    if key.endswith("_ms"):
        return f"{value:.3g} ms"
    if key.endswith("_s") and value >= 0:
        return format_age(float(value))
    return None


def header(key: str) -> str:
    """The column or row name: words the table may wrap, no unit suffix the cell already shows."""
    for suffix in ("_ts", "_at", "_s", "_ms"):
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return key.replace("_", " ")
