"""``edgepost scan``: sweep a serial bus over baud rates, parities and unit ids, and name what answers.

Scanning changes the line settings, so it needs the port to itself: it refuses a port the running
daemon (or any other process) holds.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table as RichTable

from agent.cli.exit_codes import CliError, ExitCode, Unavailable
from agent.cli.local_driver import refuse_if_held
from agent.cli.state import CliState, run, state_of
from agent.control.handlers import to_json
from agent.errors import ConfigError
from agent.records import JsonValue
from drivers.modbus.cli import local_bus

DEFAULT_BAUDS = "9600,19200"
DEFAULT_PARITIES = "N,E"
DEFAULT_UNITS = "1-247"


def parse_ints(text: str, what: str, low: int, high: int) -> list[int]:
    """``1-10,15`` -> [1..10, 15], each within low..high."""
    values: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                first, last = (int(x) for x in part.split("-", 1))
                values.extend(range(first, last + 1))
            elif part:
                values.append(int(part))
    except ValueError:
        raise CliError(f"{what}: expected numbers like 1-10,15, got {text!r}", ExitCode.USAGE) from None
    bad = [v for v in values if not low <= v <= high]
    if bad or not values:
        raise CliError(f"{what}: values must be {low}..{high}, got {text!r}", ExitCode.USAGE)
    return list(dict.fromkeys(values))


def parse_parities(text: str) -> list[str]:
    parities = [p.strip().upper() for p in text.split(",") if p.strip()]
    if not parities or any(p not in ("N", "E", "O") for p in parities):
        raise CliError(f"--parity: expected N, E and/or O, got {text!r}", ExitCode.USAGE)
    return list(dict.fromkeys(parities))


def _check_port_is_free(state: CliState, port: str) -> None:
    if state.daemon_running():
        try:
            bus = local_bus.bus_name_for_port(state.config(), port)
        except ConfigError:
            bus = None
        if bus is not None:
            raise CliError(
                f"{port} is bus {bus!r} of the running daemon; scanning needs the port to itself "
                f"(stop the daemon, or identify one unit with 'edgepost probe --bus {bus} --unit N')",
                ExitCode.FAILED,
            )
    refuse_if_held(port)


def _hit_row(hit: Any) -> dict[str, JsonValue]:
    best = hit.best
    return {
        "baudrate": hit.baudrate,
        "parity": hit.parity,
        "unit": hit.unit,
        "profile": best.profile if best else None,
        "score": best.score if best else None,
        "firmware": best.firmware if best else None,
        "matches": to_json(hit.matches),
    }


def scan(
    ctx: typer.Context,
    port: Annotated[str, typer.Option("--port", "-p", help="serial port, e.g. /dev/ttyUSB0")],
    bauds: Annotated[str, typer.Option("--baud", help="baud rates to try, comma separated")] = DEFAULT_BAUDS,
    parities: Annotated[str, typer.Option("--parity", help="parities to try: N,E,O")] = DEFAULT_PARITIES,
    units: Annotated[str, typer.Option("--units", "-u", help="unit ids, e.g. 1-10,15")] = DEFAULT_UNITS,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait per unit")] = 0.2,
    stopbits: Annotated[int, typer.Option("--stopbits", help="1 or 2")] = 1,
) -> None:
    """Find devices on a serial bus and name them by their profiles' identification."""
    state = state_of(ctx)
    baud_list = parse_ints(bauds, "--baud", 300, 921_600)
    parity_list = parse_parities(parities)
    unit_list = parse_ints(units, "--units", 1, 247)
    if stopbits not in (1, 2):
        raise CliError(f"--stopbits must be 1 or 2, got {stopbits}", ExitCode.USAGE)
    try:
        identify = importlib.import_module("drivers.modbus.identify")
    except ImportError as exc:
        raise Unavailable(f"scan needs the Modbus driver, which is not installed ({exc})") from None
    _check_port_is_free(state, port)

    total = len(baud_list) * len(parity_list) * len(unit_list)
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True, disable=state.json,
    )
    task = progress.add_task("scanning", total=total)

    def on_progress(baud: int, parity: str, unit: int, hit: Any) -> None:
        progress.update(task, advance=1, description=f"{baud} {parity} unit {unit}")
        if hit is not None and not state.json:
            best = hit.best
            name = f"{best.profile} (score {best.score:.2f})" if best else "no profile matches"
            progress.console.print(f"found unit {unit} at {baud} {parity}: {name}")

    async def _scan() -> list[Any]:
        hits: list[Any] = await identify.scan(
            port, unit_list, baud_list, parity_list, on_progress, timeout_s=timeout, stopbits=stopbits
        )
        return hits

    with progress:
        hits = run(_scan())
    rows = [_hit_row(hit) for hit in hits]
    state.emit({"port": port, "found": list[JsonValue](rows)}, lambda: _print_hits(state, port, rows))
    if not hits:
        raise typer.Exit(ExitCode.NO_ANSWER)


def _print_hits(state: CliState, port: str, rows: list[dict[str, JsonValue]]) -> None:
    if not rows:
        state.console.print(f"{port}: no device answered")
        return
    table = RichTable("baud", "parity", "unit", "profile", "score", "firmware", title=f"devices on {port}")
    for row in rows:
        score = row["score"]
        table.add_row(
            str(row["baudrate"]), str(row["parity"]), str(row["unit"]), str(row["profile"] or "unknown"),
            f"{score:.2f}" if isinstance(score, float) else "-", str(row["firmware"] or "-"),
        )
    state.console.print(table)
