"""``edgepost status`` and ``edgepost watch``: live state from the running daemon."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from agent.cli.render import format_ts, render_sections
from agent.cli.state import CliState, run, state_of
from agent.cli.units import format_bytes, relative_time
from agent.control.client import ControlClient
from agent.control.protocol import BufferStatsRequest, StatusRequest, WatchRequest
from agent.records import JsonValue


def status(ctx: typer.Context) -> None:
    """Buses, devices, outbox depth and oldest age, uplink, cameras and models (needs the daemon)."""
    state = state_of(ctx)
    data = state.call(StatusRequest())
    outbox = state.call(BufferStatsRequest())
    combined: dict[str, JsonValue] = {"status": data, "outbox": outbox}
    state.emit(combined, lambda: _render_status(state, data, outbox))


def _render_status(state: CliState, data: JsonValue, outbox: JsonValue) -> None:
    render_sections(state.console, data)
    if isinstance(outbox, dict):
        state.console.print(outbox_line(outbox))


def outbox_line(outbox: dict[str, JsonValue]) -> str:
    """"outbox: 1204 records, oldest 3 min ago, 12.5 MiB of 2048 MiB (1%)"."""
    records, oldest = outbox.get("records"), outbox.get("oldest_ts")
    used, limit = outbox.get("bytes_on_disk"), outbox.get("max_bytes")
    parts = [f"[bold]outbox[/bold]: {records} record{'' if records == 1 else 's'}"]
    parts.append(f"oldest {relative_time(float(oldest))}" if isinstance(oldest, int | float) else "none waiting")
    if isinstance(used, int | float) and isinstance(limit, int | float) and limit > 0:
        parts.append(f"{format_bytes(used)} of {format_bytes(limit)} ({used / limit:.0%})")
    if outbox.get("degraded"):
        parts.append(f"[red]degraded: {outbox['degraded']}[/red]")
    return ", ".join(parts)


def watch(
    ctx: typer.Context,
    device: Annotated[str | None, typer.Option("--device", "-d", help="only this device")] = None,
    count: Annotated[int | None, typer.Option("--count", "-n", help="stop after this many records")] = None,
) -> None:
    """Tail live readings and events (Ctrl-C to stop). With --json: one JSON object per line."""
    state = state_of(ctx)

    async def _watch() -> None:
        seen = 0
        async with ControlClient(state.daemon_socket(), group=state.control_group()) as client:
            async for record in client.watch(WatchRequest(device=device)):
                _print_record(state, record)
                seen += 1
                if count is not None and seen >= count:
                    return

    run(_watch())


def _print_record(state: CliState, record: JsonValue) -> None:
    if state.json or not isinstance(record, dict):
        sys.stdout.write(orjson.dumps(record).decode() + "\n")
        sys.stdout.flush()
        return
    ts = record.get("ts")
    when = format_ts(ts) if isinstance(ts, int | float) else "?"
    if record.get("type") == "reading":
        unit = f" {record['unit']}" if record.get("unit") else ""
        quality = record.get("quality")
        flag = "" if quality == "good" else f" [{quality}]"
        state.console.print(f"{when} {record.get('device')}.{record.get('point')} = {record.get('value')}{unit}{flag}")
    else:
        data = orjson.dumps(record.get("data") or {}).decode()
        state.console.print(
            f"{when} [bold]{record.get('kind')}[/bold] {record.get('device')} ({record.get('priority')}) {data}"
        )
