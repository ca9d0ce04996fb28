"""Rich tables from the plain JSON the daemon answers (its shape grows; render whatever is there)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.cli.units import format_age, header, human
from agent.records import JsonValue

__all__ = ["cell", "format_age", "format_ts", "mapping_table", "render_sections", "rows_table", "rows_tables"]

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
    shown = human(key, value)
    if shown is not None:
        return Text(shown)
    if isinstance(value, float):
        return Text(f"{value:.6g}")
    if isinstance(value, dict | list):
        return Text(_compact(value), overflow="fold")
    text = "" if value is None else str(value)
    return Text(text, style=_STATE_STYLE.get(text.lower(), ""), overflow="fold")


def _compact(value: JsonValue) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_compact(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_compact(v) for v in value)
    return "" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))


def format_ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _is_rows(value: JsonValue) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, dict) for v in value)
    if isinstance(value, dict):
        return bool(value) and all(isinstance(v, dict) for v in value.values())
    return False


def rows_tables(title: str, rows: JsonValue, width: int) -> list[Table]:
    """Tables from ``[{...}, ...]`` or ``{name: {...}}`` (the name becomes the first column).

    Columns that do not fit ``width`` side by side go to a further table that repeats the name, so
    no header is cut and no cell is squeezed into a column narrower than its words."""
    items: list[tuple[str | None, dict[str, JsonValue]]] = []
    if isinstance(rows, dict):
        items = [(name, row) for name, row in rows.items() if isinstance(row, dict)]
    elif isinstance(rows, list):
        items = [(None, row) for row in rows if isinstance(row, dict)]
    columns: list[str] = []
    for _, row in items:
        columns += [k for k in row if k not in columns]
    cells = {c: [cell(row.get(c), c) for _, row in items] for c in columns}
    named = isinstance(rows, dict)
    names = [Text(name or "", style="bold") for name, _ in items]
    name_width = max([len("name"), *(len(n.plain) for n in names)]) if named else 0
    widths = {c: _natural_width(header(c), cells[c]) for c in columns}
    groups = _pack(columns, widths, width, name_width)
    tables: list[Table] = []
    for index, group in enumerate(groups):
        suffix = f" ({index + 1}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(title=title + suffix, title_justify="left")
        if named:
            table.add_column("name", no_wrap=True)
        for column in group:
            # at most the width packed for: a header longer than its cells wraps between its words
            table.add_column(header(column), min_width=_longest_word(header(column)), max_width=widths[column],
                             overflow="fold")
        for i in range(len(items)):
            table.add_row(*([names[i]] if named else []), *(cells[c][i] for c in group))
        tables.append(table)
    return tables


_MAX_COLUMN = 28  # wider cells wrap at their spaces (or fold) rather than push columns off the table
_BORDER = 3  # a column's padding and its rule


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def _natural_width(title: str, cells: list[Text]) -> int:
    return min(max([_longest_word(title), *(len(c.plain) for c in cells)]), _MAX_COLUMN)


def _pack(columns: list[str], widths: dict[str, int], width: int, name_width: int) -> list[list[str]]:
    start = 1 + (name_width + _BORDER if name_width else 0)
    groups: list[list[str]] = [[]]
    used = start
    for column in columns:
        need = widths[column] + _BORDER
        if groups[-1] and used + need > width:
            groups.append([])
            used = start
        groups[-1].append(column)
        used += need
    return groups


def rows_table(title: str, rows: JsonValue) -> Table:
    """One table however wide (for a caller that lays it out itself)."""
    return rows_tables(title, rows, 1 << 16)[0]


def mapping_table(title: str, data: dict[str, JsonValue]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        table.add_row(header(key), cell(value, key))
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
        for table in rows_tables(name, remaining, console.width):
            console.print(table)
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
