"""Rich tables from the plain JSON the daemon answers (its shape grows; render whatever is there)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.records import JsonValue

_STATE_STYLE = {
    "online": "green",
    "ok": "green",
    "connected": "green",
    "running": "green",
    "degraded": "yellow",
    "connecting": "yellow",
    "open": "green",
    "port missing": "red",
    "open failed": "red",
    "lost": "red",
    "offline": "red",
    "disconnected": "red",
    "failed": "red",
    "stale": "yellow",
    "bad": "red",
}


def cell(value: JsonValue, key: str = "") -> Text:
    if isinstance(value, float) and (key.endswith("ts") or key.endswith("_at")) and value > 1e9:
        ahead = value - time.time()  # a next-attempt time is ahead, a last-seen time behind
        when = f"in {format_age(ahead)}" if ahead > 0 else f"{format_age(-ahead)} ago"
        return Text(f"{format_ts(value)} ({when})")
    if isinstance(value, float):
        return Text(f"{value:.6g}")
    if isinstance(value, dict | list):
        return Text(_compact(value), overflow="fold")
    text = "" if value is None else str(value)
    return Text(text, style=_STATE_STYLE.get(text.lower(), ""))


def _compact(value: JsonValue) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_compact(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_compact(v) for v in value)
    return "" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))


def format_ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_age(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _is_rows(value: JsonValue) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, dict) for v in value)
    if isinstance(value, dict):
        return bool(value) and all(isinstance(v, dict) for v in value.values())
    return False


def rows_table(title: str, rows: JsonValue) -> Table:
    """A table from ``[{...}, ...]`` or ``{name: {...}}`` (the name becomes the first column)."""
    items: list[tuple[str | None, dict[str, JsonValue]]] = []
    if isinstance(rows, dict):
        items = [(name, row) for name, row in rows.items() if isinstance(row, dict)]
    elif isinstance(rows, list):
        items = [(None, row) for row in rows if isinstance(row, dict)]
    columns: list[str] = []
    for _, row in items:
        columns += [k for k in row if k not in columns]
    table = Table(title=title, title_justify="left")
    if isinstance(rows, dict):
        table.add_column("name", style="bold")
    for column in columns:
        table.add_column(column)
    for name, row in items:
        cells = [cell(row.get(c), c) for c in columns]
        table.add_row(*([Text(name or "")] if isinstance(rows, dict) else []), *cells)
    return table


def mapping_table(title: str, data: dict[str, JsonValue]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in data.items():
        table.add_row(key, cell(value, key))
    return table


def render_sections(console: Console, data: JsonValue, title: str = "") -> None:
    """Each top-level section as the table that fits it; nested row-sets get their own tables."""
    if not isinstance(data, dict):
        console.print(cell(data))
        return
    scalars: dict[str, JsonValue] = {}
    for key, value in data.items():
        name = f"{title}.{key}" if title else key
        if _is_rows(value):
            assert isinstance(value, dict | list)
            _print_rows(console, name, value)
        elif isinstance(value, dict) and value:
            render_sections(console, value, name)
        else:
            scalars[key] = value
    if scalars:
        console.print(mapping_table(title or "edgepost", scalars))


def _print_rows(console: Console, name: str, rows: dict[str, JsonValue] | list[JsonValue]) -> None:
    """One table for the rows, then one per row-set inside them (a bus's devices, a device's ranges)."""
    nested = _nested_row_sets(rows)
    remaining = _without(rows, nested)
    if _has_columns(remaining):  # a table of bare names says nothing its sub-tables do not
        console.print(rows_table(name, remaining))
    for inner_name, inner in nested.items():
        assert isinstance(inner, dict | list)
        _print_rows(console, f"{name} {inner_name}", inner)


def _has_columns(rows: JsonValue) -> bool:
    items = rows.values() if isinstance(rows, dict) else rows if isinstance(rows, list) else []
    return any(isinstance(row, dict) and row for row in items)


def _nested_row_sets(rows: dict[str, JsonValue] | list[JsonValue]) -> dict[str, JsonValue]:
    """Row-sets inside rows (a bus's devices): pulled out as one table per parent row."""
    found: dict[str, JsonValue] = {}
    items = rows.items() if isinstance(rows, dict) else enumerate(rows)
    for name, row in items:
        if isinstance(row, dict):
            for key, value in row.items():
                if _is_rows(value):
                    found[f"{name}/{key}"] = value
    return found


def _without(rows: dict[str, JsonValue] | list[JsonValue], nested: dict[str, JsonValue]) -> JsonValue:
    if not nested:
        return rows
    drop = {key.split("/", 1)[1] for key in nested}
    if isinstance(rows, dict):
        return {name: _drop(row, drop) for name, row in rows.items()}
    return [_drop(row, drop) for row in rows]


def _drop(row: JsonValue, keys: set[str]) -> JsonValue:
    return {k: v for k, v in row.items() if k not in keys} if isinstance(row, dict) else row
