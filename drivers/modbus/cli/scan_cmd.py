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
from drivers.modbus.cli.raw_input import check_timeout

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
        "basis": best.basis if best else None,
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
    check_timeout(timeout)
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
    hits: list[Any] = []  # kept here as they come, so Ctrl-C still shows them
    skipped: list[JsonValue] = []

    def on_progress(baud: int, parity: str, unit: int, hit: Any) -> None:
        progress.update(task, advance=1, description=f"{baud} {parity} unit {unit}")
        if hit is not None:
            hits.append(hit)
        if hit is not None and not state.json:
            best = hit.best
            name = f"{best.profile} (score {best.score:.2f}: {best.basis})" if best else "no profile matches"
            progress.console.print(f"found unit {unit} at {baud} {parity}: {name}")

    def on_skipped(baud: int, parity: str, reason: str) -> None:
        progress.update(task, advance=len(unit_list))
        skipped.append({"baudrate": baud, "parity": parity, "reason": reason})
        progress.console.print(f"edgepost: note: skipped {baud} {parity}{stopbits}: {reason}")

    async def _scan() -> None:
        await identify.scan(
            port, unit_list, baud_list, parity_list, on_progress, timeout_s=timeout,
            stopbits=stopbits, skipped_cb=on_skipped,
        )

    interrupted = False
    with progress:
        try:
            run(_scan())
        except KeyboardInterrupt:
            interrupted = True
    rows = [_hit_row(hit) for hit in hits]
    data: dict[str, JsonValue] = {"port": port, "found": list[JsonValue](rows), "skipped": skipped}
    if interrupted:
        data["interrupted"] = True
    state.emit(data, lambda: _print_hits(state, port, rows, interrupted))
    if interrupted:
        raise typer.Exit(ExitCode.INTERRUPTED)
    if not hits:
        raise typer.Exit(ExitCode.NO_ANSWER)


SCORE_LEGEND = (
    "score: the share of a profile's identification values the device matched (1.00: all of them). "
    "A profile that declares none to compare scores at most 0.50, half the share of its registers that "
    "answer: weak evidence, as another model with registers there would answer too."
)


def _print_hits(state: CliState, port: str, rows: list[dict[str, JsonValue]], interrupted: bool = False) -> None:
    stopped = " before the scan was interrupted" if interrupted else ""
    if not rows:
        state.console.print(f"{port}: no device answered{stopped}")
        return
    title = f"devices on {port}" + (" (found so far: interrupted)" if interrupted else "")
    table = RichTable("baud", "parity", "unit", "profile", "score", "firmware", title=title)
    for row in rows:
        score = row["score"]
        table.add_row(
            str(row["baudrate"]), str(row["parity"]), str(row["unit"]), str(row["profile"] or "unknown"),
            f"{score:.2f}" if isinstance(score, float) else "-", str(row["firmware"] or "-"),
        )
    state.console.print(table)
    state.console.print(SCORE_LEGEND)
