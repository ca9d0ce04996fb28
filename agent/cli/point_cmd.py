"""``edgepost read|write DEVICE POINT``: one point by name, through the daemon when it runs.

Driver-neutral: the configured driver serving the device reads or writes the point (in this process
when no daemon runs). A driver's CLI may register its own ``read``/``write`` that add a raw mode
(Modbus registers) and hand point mode back to the functions here.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agent.cli.exit_codes import CliError, ExitCode
from agent.cli.local_driver import open_driver_for
from agent.cli.state import CliState, run, state_of
from agent.control.client import RemoteError
from agent.control.protocol import ReadPointRequest, WritePointRequest
from agent.errors import DeviceError, WriteOutcomeUnknown
from agent.recordjson import record_to_json
from agent.records import JsonValue, PointValue


def parse_value(text: str) -> PointValue:
    """A point value from the command line: bool, int, float, else the text (an enum label)."""
    lowered = text.lower()
    if lowered in ("true", "on"):
        return True
    if lowered in ("false", "off"):
        return False
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def outcome_unknown(what: str, exc: BaseException) -> CliError:
    reason = exc.reason if isinstance(exc, WriteOutcomeUnknown) else str(exc)
    return CliError(
        f"{what}: the write went out but no reply confirmed it ({reason}): it may or may not have been "
        "applied, and it was not sent again. Read the value back before writing again (or write with --verify).",
        ExitCode.OUTCOME_UNKNOWN,
    )


def is_outcome_unknown(exc: BaseException) -> bool:
    return isinstance(exc, WriteOutcomeUnknown) or (isinstance(exc, RemoteError) and exc.kind == "WriteOutcomeUnknown")


def read_point(state: CliState, device: str, point: str) -> JsonValue:
    if state.daemon_running():
        return state.call(ReadPointRequest(device=device, point=point))

    async def _read() -> JsonValue:
        async with open_driver_for(state.config(), device, state.config_path.parent) as driver:
            return record_to_json(await driver.read_point(device, point))

    return run(_read())


def read_points(state: CliState, device: str, points: list[str]) -> list[JsonValue]:
    """Several points of one device, in order: one port opening when no daemon runs."""
    if state.daemon_running():
        results: list[JsonValue] = []
        for point in points:
            try:
                results.append(state.call(ReadPointRequest(device=device, point=point)))
            except RemoteError as exc:  # this point failed; the others are still worth reading
                results.append({"device": device, "point": point, "error": str(exc)})
        return results

    async def _read() -> list[JsonValue]:
        async with open_driver_for(state.config(), device, state.config_path.parent) as driver:
            return [await read_one(driver, device, point) for point in points]

    return run(_read())


async def read_one(driver: Any, device: str, point: str) -> JsonValue:
    """One point's reading, or ``{"error": ...}`` when the device would not give it."""
    try:
        return record_to_json(await driver.read_point(device, point))
    except DeviceError as exc:
        return {"device": device, "point": point, "error": str(exc)}


def print_reading(state: CliState, result: JsonValue) -> None:
    if not isinstance(result, dict):
        state.console.print(str(result))
        return
    if "error" in result:
        state.console.print(f"{result.get('device')}.{result.get('point')}: {result['error']}")
        return
    unit = f" {result['unit']}" if result.get("unit") else ""
    quality = "" if result.get("quality") in (None, "good") else f" [{result['quality']}]"
    state.console.print(f"{result.get('device')}.{result.get('point')} = {result.get('value')}{unit}{quality}")


def send_point_write(state: CliState, device: str, point: str, value: PointValue, verify: bool) -> PointValue:
    """Write ``value``; returns what the register got (``value`` rounded to its step), when the driver says.

    Exit code 8 (``CliError``) when no reply confirmed the write."""
    try:
        if state.daemon_running():
            answer = state.call(WritePointRequest(device=device, point=point, value=value, verify=verify))
            written = answer.get("written") if isinstance(answer, dict) else None
            return written if isinstance(written, bool | int | float | str) else None

        async def _write() -> PointValue:
            async with open_driver_for(state.config(), device, state.config_path.parent) as driver:
                result: PointValue = await driver.write_point(device, point, value, verify)
                return result

        return run(_write())
    except (WriteOutcomeUnknown, RemoteError) as exc:
        if not is_outcome_unknown(exc):
            raise
        raise outcome_unknown(f"{device}.{point}", exc) from None


def _rounded(asked: PointValue, written: PointValue) -> bool:
    numbers = (int, float)
    plain = not isinstance(asked, bool) and not isinstance(written, bool)
    return plain and isinstance(asked, numbers) and isinstance(written, numbers) and float(asked) != float(written)


def report_write(
    state: CliState, device: str, point: str, value: PointValue, written: PointValue, verify: bool,
    unit: str | None = None,
) -> None:
    """``dimmer.dim_1 <- 0 V (asked 0.0004: ...)``: the value the register got, and what was asked when it differs."""
    got = value if written is None else written
    suffix = f" {unit}" if unit else ""
    text = f"{device}.{point} <- {got}{suffix}"
    if _rounded(value, written):
        text += f" (asked {value}: the register cannot hold that exactly, so it got {got}{suffix})"
    if verify:
        text += " (verified)"
    data: JsonValue = {"device": device, "point": point, "value": value, "written": got, "verified": verify}
    state.emit(data, lambda: state.console.print(text))


def write_point(state: CliState, device: str, point: str, text: str, verify: bool) -> None:
    """Write ``text`` (parsed) to a point and report it; exit code 8 when no reply confirmed the write."""
    value = parse_value(text)
    written = send_point_write(state, device, point, value, verify)
    report_write(state, device, point, value, written, verify)


def read(
    ctx: typer.Context,
    device: Annotated[str, typer.Argument(help="device name")],
    point: Annotated[str, typer.Argument(help="point name")],
) -> None:
    """Read a point by name."""
    state = state_of(ctx)
    result = read_point(state, device, point)
    state.emit(result, lambda: print_reading(state, result))


def write(
    ctx: typer.Context,
    device: Annotated[str, typer.Argument(help="device name")],
    point: Annotated[str, typer.Argument(help="point name")],
    value: Annotated[str, typer.Argument(help="value: a number, true/false, or an enum label")],
    verify: Annotated[bool, typer.Option("--verify", help="read back and compare")] = False,
) -> None:
    """Write a point by name (validated by its driver).

    A write is sent once. When no reply confirms it, it may or may not have been applied: the exit
    code is 8 and nothing is resent.
    """
    write_point(state_of(ctx), device, point, value, verify)
