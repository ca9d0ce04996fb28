"""Status tables: human units from the key's name, and wide row-sets split so every column fits."""

from __future__ import annotations

import io

from rich.console import Console

from agent.cli.render import render_sections
from agent.cli.units import format_bytes, header, human, relative_time


def test_units_follow_the_key() -> None:
    assert relative_time(1_000_000_000.0 - 180, now=1_000_000_000.0) == "3 min ago"
    assert relative_time(1_000_000_000.0 + 1200, now=1_000_000_000.0) == "in 20 min"
    assert human("bytes_on_disk", 13 * 1024 * 1024) == "13.0 MiB"
    assert human("max_bytes", 2 << 30) == "2048 MiB"
    assert format_bytes(512) == "512 B"
    assert human("utilisation", 0.5408) == "54%"
    assert human("uptime_s", 7260.0) == "2.0 h"
    assert human("loop_lag_ms", 9.24) == "9.24 ms"
    assert human("requests", 12) is None and human("running", True) is None
    assert header("state_changed_at") == "state changed" and header("last_read_ts") == "last read"


def test_a_wide_row_set_is_split_and_nothing_is_cut() -> None:
    rows = {f"device{i}": {f"counter_number_{c}": c * 1000 for c in range(12)} | {"last_read_ts": 1.7e9}
            for i in range(3)}
    out = io.StringIO()
    console = Console(file=out, width=60, color_system=None)
    render_sections(console, {"devices": rows})
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "…" not in text
    assert "devices (1/" in text and text.count("device2") >= 2  # the name is repeated in each part
    for c in range(12):
        assert f"{c * 1000}" in text
