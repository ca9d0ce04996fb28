"""``edgepost read|write|probe``: one point or raw registers, through the daemon when it runs.

Point mode names a configured device and point (``read meter1 voltage``). Raw mode names a bus
(``--bus`` from the config, or ``--port``/``--host``) plus ``--unit --table --address``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer
from rich.table import Table as RichTable

from agent.cli.exit_codes import CliError, ExitCode
from agent.cli.point_cmd import (
    is_outcome_unknown,
    outcome_unknown,
    parse_value,
    print_reading,
    read_one,
    read_point,
    read_points,
    report_write,
    send_point_write,
)
from agent.cli.state import CliState, run, state_of
from agent.control.client import RemoteError
from agent.control.handlers import to_json
from agent.control.protocol import RawRequest
from agent.errors import ConfigError, WriteOutcomeUnknown
from agent.records import JsonValue
from drivers.modbus.cli import devices, local_bus
from drivers.modbus.cli.raw_input import (
    AddressOpt,
    UnitOpt,
    check_timeout,
    checked_read,
    checked_write,
    register_values,
)
from drivers.modbus.cli.write_guard import guard_point_write, guard_raw_write
from drivers.modbus.profile import Table

BusOpt = Annotated[str | None, typer.Option("--bus", "-b", help="bus name from the config")]
PortOpt = Annotated[str | None, typer.Option("--port", "-p", help="serial port (no daemon, or not its bus)")]
HostOpt = Annotated[str | None, typer.Option("--host", help="Modbus TCP host")]
TcpPortOpt = Annotated[int, typer.Option("--tcp-port", help="Modbus TCP port")]
BaudOpt = Annotated[int, typer.Option("--baud", help="serial baud rate")]
ParityOpt = Annotated[str, typer.Option("--parity", help="N, E or O")]
StopOpt = Annotated[int, typer.Option("--stopbits", help="1 or 2")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="seconds to wait for an answer")]
TableOpt = Annotated[Table, typer.Option("--table", "-t", help="register table")]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="send without asking: a broadcast (unit 0), a comms setting, out of range")
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="vendor/model of the unit: point names with no config, raw-write checks")
]

BROADCAST_UNIT = 0


def port_options(
    port: str | None, host: str | None, tcp_port: int, baud: int, parity: str, stopbits: int, timeout: float
) -> local_bus.PortOptions:
    parity = parity.upper()
    if parity not in ("N", "E", "O"):
        raise CliError(f"--parity must be N, E or O, got {parity!r}", ExitCode.USAGE)
    if stopbits not in (1, 2):
        raise CliError(f"--stopbits must be 1 or 2, got {stopbits}", ExitCode.USAGE)
    check_timeout(timeout)
    checked_parity: Literal["N", "E", "O"] = parity  # type: ignore[assignment]
    checked_stop: Literal[1, 2] = stopbits  # type: ignore[assignment]
    return local_bus.PortOptions(
        port=port, host=host, tcp_port=tcp_port, baudrate=baud, parity=checked_parity,
        stopbits=checked_stop, timeout_s=timeout,
    )


def _config_or_none(state: CliState) -> Any:
    try:
        return state.config()
    except ConfigError:
        return None


def daemon_bus(state: CliState, bus: str | None, port: str | None) -> str | None:
    """The daemon's bus name to use, or None when the CLI must (and may) open the bus itself."""
    if not state.daemon_running():
        return None
    if bus is not None:
        return bus
    if port is not None:
        return local_bus.bus_name_for_port(_config_or_none(state), port)
    return None


def _raw_via_daemon(state: CliState, request: RawRequest, timeout_s: float = 30.0) -> JsonValue:
    """A raw verb of the Modbus driver (``drivers/modbus/raw_verbs.py``) on the daemon's bus."""
    return state.call(request, timeout_s=timeout_s)


def _need_unit(unit: int | None) -> int:
    if unit is None:
        raise CliError("raw access needs --unit", ExitCode.USAGE)
    return unit


def _confirm_broadcast(where: str, table: Table, address: int, values: list[int], yes: bool) -> None:
    if yes:
        return
    question = (
        f"Unit 0 is a broadcast: every device on {where} applies {table.value} {address} <- {values} "
        "and none confirms it. Send it?"
    )
    if not typer.confirm(question, default=False, err=True):
        raise CliError("broadcast not sent", ExitCode.FAILED)


def read(
    ctx: typer.Context,
    device: Annotated[str | None, typer.Argument(help="device name (point mode); every point without POINT")] = None,
    point: Annotated[str | None, typer.Argument(help="point name (point mode)")] = None,
    bus: BusOpt = None, port: PortOpt = None, host: HostOpt = None, tcp_port: TcpPortOpt = 502,
    baud: BaudOpt = 9600, parity: ParityOpt = "N", stopbits: StopOpt = 1, timeout: TimeoutOpt = 1.0,
    unit: UnitOpt = None, table: TableOpt = Table.HOLDING, address: AddressOpt = None,
    count: Annotated[int, typer.Option("--count", "-n", help="registers/bits (raw mode)")] = 1,
    profile: ProfileOpt = None,
) -> None:
    """Read a point by name, every point of a device, or raw registers (--address).

    With --port/--host, --unit and --profile vendor/model, points are read by name with no config file.
    """
    state = state_of(ctx)
    if address is None and profile is not None:
        _read_adhoc(state, profile, device, point, bus, port_options(port, host, tcp_port, baud, parity, stopbits,
                    timeout), _need_unit(unit))
        return
    if address is None:
        if device is None:
            raise CliError("give DEVICE [POINT], --profile with --unit, or --address for a raw read", ExitCode.USAGE)
        if point is None:
            _read_device(state, device)
            return
        result = read_point(state, device, point)
        state.emit(result, lambda: print_reading(state, result))
        return
    unit_id = _need_unit(unit)
    if unit_id == BROADCAST_UNIT:
        raise CliError("unit 0 is the broadcast address: writes only, no device answers a read", ExitCode.USAGE)
    checked_read(unit_id, table, address, count)
    check_timeout(timeout)
    via = daemon_bus(state, bus, port)
    if via is not None:
        args: dict[str, JsonValue] = {"unit": unit_id, "table": table.value, "address": address, "count": count}
        request = RawRequest(bus=via, verb="read", args=args)
        values = _raw_via_daemon(state, request)
    else:
        options = port_options(port, host, tcp_port, baud, parity, stopbits, timeout)
        bus_config = local_bus.build_bus_config(_config_or_none(state), bus, options)

        async def _read() -> list[int]:
            async with local_bus.open_bus(bus_config) as queue:
                return await local_bus.raw_read(queue, unit_id, table, address, count)

        values = to_json(run(_read()))
    data: JsonValue = {"unit": unit_id, "table": table.value, "address": address, "values": values}
    state.emit(data, lambda: _print_registers(state, address, values))


def _read_device(state: CliState, name: str) -> None:
    config = state.config()
    device = devices.configured_device(config, name)
    if device is None:
        if name in devices.device_names(config):  # another driver's device
            raise CliError(f"{name} is not a Modbus device: say which point (read {name} POINT)", ExitCode.USAGE)
        raise devices.unknown_device(config, name)
    names = devices.readable_points(device, devices.load_profile(config, device.profile, device.firmware))
    _emit_readings(state, read_points(state, name, names))


def _read_adhoc(
    state: CliState, profile: str, device: str | None, point: str | None, bus: str | None,
    options: local_bus.PortOptions, unit: int,
) -> None:
    """``read --port P --unit U --profile vendor/model [POINT]``: no config file needed."""
    wanted = point if point is not None else device  # with --profile the one argument is the point
    if point is not None and device is not None:
        raise CliError("with --profile, give only POINT (the device is --unit on --port/--host)", ExitCode.USAGE)
    found = devices.load_profile(_config_or_none(state), profile)
    names = [wanted] if wanted is not None else [n for n, p in found.points.items() if p.access.readable]
    entry, name = devices.adhoc_device(local_bus.build_bus_config(_config_or_none(state), bus, options), unit, found.id)

    async def _read() -> list[JsonValue]:
        async with devices.adhoc_driver(entry) as driver:
            return [await read_one(driver, name, n) for n in names]

    readings = run(_read())
    if wanted is not None:
        _raise_if_failed(readings[0])
        state.emit(readings[0], lambda: print_reading(state, readings[0]))
        return
    _emit_readings(state, readings)


def _raise_if_failed(reading: JsonValue) -> None:
    if isinstance(reading, dict) and "error" in reading:
        raise CliError(str(reading["error"]), ExitCode.NO_ANSWER)


def _emit_readings(state: CliState, readings: list[JsonValue]) -> None:
    def render() -> None:
        for reading in readings:
            print_reading(state, reading)

    state.emit(readings, render)
    if any(isinstance(r, dict) and "error" in r for r in readings):
        raise typer.Exit(ExitCode.FAILED)


def _print_registers(state: CliState, address: int, values: JsonValue) -> None:
    table = RichTable("address", "value", "hex")
    for offset, value in enumerate(values if isinstance(values, list) else []):
        number = value if isinstance(value, int) else 0
        table.add_row(str(address + offset), str(value), f"0x{number:04X}")
    state.console.print(table)


def write(
    ctx: typer.Context,
    args: Annotated[list[str], typer.Argument(help="DEVICE POINT VALUE, or raw VALUE... with --address")],
    verify: Annotated[bool, typer.Option("--verify", help="read back and compare (point mode)")] = False,
    bus: BusOpt = None, port: PortOpt = None, host: HostOpt = None, tcp_port: TcpPortOpt = 502,
    baud: BaudOpt = 9600, parity: ParityOpt = "N", stopbits: StopOpt = 1, timeout: TimeoutOpt = 1.0,
    unit: UnitOpt = None, table: TableOpt = Table.HOLDING, address: AddressOpt = None, yes: YesOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Write a point by name (validated against the profile), or raw registers/coils (--address).

    A write is sent once. When no reply confirms it, it may or may not have been applied: the exit
    code is 8 and nothing is resent. Negative values need no '--' (write lamp dim_1 -1). Asks first
    (unless --yes) for a broadcast (unit 0) and a comms setting; a raw write outside the profile's
    range for that register needs --yes.
    """
    state = state_of(ctx)
    _refuse_unknown_options(args)
    if address is None:
        if len(args) != 3:
            raise CliError("point mode takes DEVICE POINT VALUE", ExitCode.USAGE)
        _write_point(state, args[0], args[1], args[2], verify, yes)
        return
    unit_id = _need_unit(unit)
    values = register_values(args)
    checked_write(unit_id, table, address, values)
    via = daemon_bus(state, bus, port)
    options = None if via is not None else port_options(port, host, tcp_port, baud, parity, stopbits, timeout)
    guard_raw_write(_raw_profile(state, profile, via or bus, port, unit_id), unit_id, table, address, values, yes)
    if unit_id == BROADCAST_UNIT:
        _confirm_broadcast(via or bus or port or host or "the bus", table, address, values, yes)
    try:
        _raw_write(state, via or bus, options, unit_id, table, address, values)
    except (WriteOutcomeUnknown, RemoteError) as exc:
        if not is_outcome_unknown(exc):
            raise
        raise outcome_unknown(f"unit {unit_id} {table.value} {address}", exc) from None
    data: dict[str, JsonValue] = {"unit": unit_id, "table": table.value, "address": address, "values": list(values)}
    if unit_id == BROADCAST_UNIT:
        data.update(broadcast=True, outcome="sent")
        message = f"broadcast {len(values)} value(s) at {table.value} {address}: sent (no device confirms a broadcast)"
    else:
        message = f"wrote {len(values)} value(s) at {table.value} {address} on unit {unit_id}"
    state.emit(data, lambda: state.console.print(message))


def _refuse_unknown_options(args: list[str]) -> None:
    """Unknown options reach ``args`` (so that ``-1`` can be a value): a word like ``--verfy`` is still one."""
    for word in args:
        if word.startswith("-") and not _numeric(word):
            raise CliError(f"No such option: {word}", ExitCode.USAGE)


def _numeric(word: str) -> bool:
    try:
        float(word) if not word.lower().lstrip("-").startswith("0x") else int(word, 0)
    except ValueError:
        return False
    return True


def _write_point(state: CliState, device: str, point: str, text: str, verify: bool, yes: bool) -> None:
    config = _config_or_none(state)
    configured = devices.configured_device(config, device)
    found = None if configured is None else devices.load_profile(config, configured.profile, configured.firmware)
    if configured is not None and found is not None:
        guard_point_write(device, configured.unit_id, found, point, yes)
    value = parse_value(text)
    written = send_point_write(state, device, point, value, verify)
    point_unit = found.points[point].unit if found is not None and point in found.points else None
    report_write(state, device, point, value, written, verify, point_unit)


def _raw_profile(state: CliState, ref: str | None, bus: str | None, port: str | None, unit: int) -> Any:
    """The profile that guards a raw write: ``--profile``, else the config's device at that unit and bus."""
    config = _config_or_none(state)
    if ref is not None:
        return devices.load_profile(config, ref)
    bus_name = bus if bus is not None else (local_bus.bus_name_for_port(config, port) if port else None)
    device = devices.device_on(config, bus_name, unit)
    return None if device is None else devices.load_profile(config, device.profile, device.firmware)


def _raw_write(
    state: CliState, bus: str | None, options: local_bus.PortOptions | None,
    unit: int, table: Table, address: int, values: list[int],
) -> None:
    """Through the daemon's bus ``bus`` (``options`` None), or on a bus the CLI opens itself."""
    if options is None:
        assert bus is not None
        args: dict[str, JsonValue] = {"unit": unit, "table": table.value, "address": address, "values": list(values)}
        _raw_via_daemon(state, RawRequest(bus=bus, verb="write", args=args))
        return
    bus_config = local_bus.build_bus_config(_config_or_none(state), bus, options)

    async def _write() -> None:
        async with local_bus.open_bus(bus_config) as queue:
            await local_bus.raw_write(queue, unit, table, address, values)

    run(_write())


def probe(
    ctx: typer.Context,
    bus: BusOpt = None, port: PortOpt = None, host: HostOpt = None, tcp_port: TcpPortOpt = 502,
    baud: BaudOpt = 9600, parity: ParityOpt = "N", stopbits: StopOpt = 1, timeout: TimeoutOpt = 1.0,
    unit: UnitOpt = None,
) -> None:
    """Say which firmware profile fits one device (by its identification registers / FC43)."""
    from drivers.modbus.cli.identify_link import identify_local, print_matches

    state = state_of(ctx)
    unit_id = _need_unit(unit)
    via = daemon_bus(state, bus, port)
    if via is not None:
        matches = _raw_via_daemon(state, RawRequest(bus=via, verb="identify", args={"unit": unit_id}), timeout_s=60.0)
    else:
        options = port_options(port, host, tcp_port, baud, parity, stopbits, timeout)
        bus_config = local_bus.build_bus_config(_config_or_none(state), bus, options)
        matches = run(identify_local(bus_config, unit_id))
    state.emit({"unit": unit_id, "matches": matches}, lambda: print_matches(state, unit_id, matches))
    if not matches:
        raise typer.Exit(ExitCode.NO_ANSWER)
