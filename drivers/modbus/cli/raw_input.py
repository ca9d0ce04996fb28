"""What a technician types in raw mode, parsed as datasheets print it and checked before the wire.

Addresses and unit ids take ``0x3d`` as well as ``61``; register values take ``0x09C4``. Every
problem is one ``CliError`` line (exit code 2), never a traceback from pymodbus, struct or pydantic.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from agent.cli.exit_codes import CliError, ExitCode
from agent.errors import InvalidRequest
from drivers.modbus.profile import Table
from drivers.modbus.raw_limits import check_raw_read, check_raw_write


def parse_number(text: str, option: str) -> int:
    """``61``, ``0x3d``, ``0o75`` or ``0b111101``; a sign is kept so the range check can name it."""
    try:
        return int(text.strip().replace("_", ""), 0)
    except ValueError:
        raise CliError(
            f"{option} takes a number like 61 or 0x3D (hex as datasheets print it), got {text!r}", ExitCode.USAGE
        ) from None


def _address(text: str) -> int:
    return parse_number(text, "--address")


def _unit(text: str) -> int:
    return parse_number(text, "--unit")


AddressOpt = Annotated[
    int | None,
    typer.Option("--address", "-a", parser=_address, help="0-based register address, decimal or 0x hex (raw mode)"),
]
UnitOpt = Annotated[int | None, typer.Option("--unit", "-u", parser=_unit, help="Modbus unit id (1..247, 0 broadcast)")]


def register_values(args: list[str]) -> list[int]:
    """Raw values as typed: decimal or 0x hex integers (their range is checked with the request)."""
    values: list[int] = []
    for text in args:
        try:
            values.append(int(text.replace("_", ""), 0))
        except ValueError:
            raise CliError(
                f"raw values are integers like 2500 or 0x09C4, got {text!r} "
                "(to write 2.5 V, name the point: edgepost write DEVICE POINT 2.5)",
                ExitCode.USAGE,
            ) from None
    if not values:
        raise CliError("give at least one value to write", ExitCode.USAGE)
    return values


def check_timeout(timeout: float) -> float:
    if not math.isfinite(timeout) or timeout <= 0:
        raise CliError(f"--timeout is seconds to wait for an answer, more than 0; got {timeout:g}", ExitCode.USAGE)
    return timeout


def checked_read(unit: int, table: Table, address: int, count: int) -> None:
    try:
        check_raw_read(unit, table, address, count)
    except InvalidRequest as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None


def checked_write(unit: int, table: Table, address: int, values: list[int]) -> None:
    try:
        check_raw_write(unit, table, address, values)
    except InvalidRequest as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None
