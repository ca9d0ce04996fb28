"""``edgepost simulate``: serve simulated Modbus devices on a pty/serial port or TCP.

    edgepost simulate --port /dev/pts/5 --baud 9600 --device 1:eastron/sdm120 \\
        --device 2:witmotion/wt901c485 --tcp 127.0.0.1:5020 --fault 2:slow:50
    edgepost simulate --spec sim.yaml

While running, lines on stdin switch faults: ``fault 2 silent``, ``fault 2 exception:6,slow:20``,
``fault 2 none``; ``quit`` stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.exit_codes import ExitCode
from agent.errors import ConfigError
from agent.yamlsource import YamlDocument
from drivers.modbus.simulator.faults import parse_fault
from drivers.modbus.simulator.serial_bus import SimulatedBus
from drivers.modbus.simulator.serve import SimServer, build_servers, serve_servers
from drivers.modbus.simulator.spec import SimulatorSpec, load_spec, validate_spec

app = typer.Typer(help="Serve simulated Modbus devices on a pty/serial port or TCP.")


@app.callback(invoke_without_command=True)
def simulate(
    spec: Annotated[Path | None, typer.Option("--spec", help="YAML spec (buses, devices, generators, faults)")] = None,
    port: Annotated[str | None, typer.Option("--port", help="serial port or pty to serve on")] = None,
    baud: Annotated[int, typer.Option("--baud", help="baud of --port (wire timing)")] = 9600,
    parity: Annotated[str, typer.Option("--parity", help="N, E or O")] = "N",
    stopbits: Annotated[int, typer.Option("--stopbits")] = 1,
    device: Annotated[
        list[str] | None, typer.Option("--device", help="UNIT:PROFILE or UNIT:PROFILE@FIRMWARE, repeatable")
    ] = None,
    tcp: Annotated[list[str] | None, typer.Option("--tcp", help="HOST:PORT for Modbus TCP, repeatable")] = None,
    rtu_over_tcp: Annotated[
        list[str] | None, typer.Option("--rtu-over-tcp", help="HOST:PORT serving RTU frames over TCP")
    ] = None,
    fault: Annotated[
        list[str] | None, typer.Option("--fault", help="UNIT:FAULT, e.g. 2:silent, 3:corrupt-crc:0.2")
    ] = None,
    holes: Annotated[str, typer.Option("--holes", help="reject (exception 2) or allow (zeros)")] = "reject",
    turnaround_ms: Annotated[float | None, typer.Option("--turnaround-ms", help="override the profiles'")] = None,
    no_wire_timing: Annotated[bool, typer.Option("--no-wire-timing", help="answer serial requests at once")] = False,
    profiles_dir: Annotated[
        Path | None, typer.Option("--profiles-dir", help="profile directory searched before the default ones")
    ] = None,
    duration: Annotated[float | None, typer.Option("--duration", help="stop after this many seconds")] = None,
) -> None:
    """Serve devices until Ctrl-C (or --duration, or 'quit' on stdin).

    While running, stdin lines switch faults: 'fault 2 silent', 'fault 2 exception:6,slow:20',
    'fault 2 none'.
    """
    try:
        if spec is not None:
            if port or device or tcp or rtu_over_tcp:
                raise ConfigError(["--spec cannot be combined with --port/--device/--tcp/--rtu-over-tcp"])
            sim_spec, doc = load_spec(spec)
        else:
            sim_spec, doc = _spec_from_flags(
                port, baud, parity, stopbits, device or [], tcp or [], rtu_over_tcp or [], fault or [],
                holes, turnaround_ms, not no_wire_timing, profiles_dir,
            ), None
        servers = build_servers(sim_spec, doc)
    except ConfigError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"edgepost: error: {problem}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(servers, duration))


def _spec_from_flags(
    port: str | None, baud: int, parity: str, stopbits: int, devices: list[str], tcp: list[str],
    rtu_over_tcp: list[str], faults: list[str], holes: str, turnaround_ms: float | None,
    wire_timing: bool, profiles_dir: Path | None,
) -> SimulatorSpec:
    if not devices:
        raise ConfigError(["give at least one --device UNIT:PROFILE (or --spec FILE)"])
    if not (port or tcp or rtu_over_tcp):
        raise ConfigError(["give --port, --tcp or --rtu-over-tcp to serve on (or --spec FILE)"])
    faults_by_unit: dict[int, list[str]] = {}
    for text in faults:
        unit_text, _, fault_text = text.partition(":")
        unit = _int(unit_text, f"--fault {text!r}: expected UNIT:FAULT")
        faults_by_unit.setdefault(unit, []).append(fault_text)
    device_specs: list[dict[str, Any]] = []
    for text in devices:
        unit_text, _, ref = text.partition(":")
        ref, _, firmware = ref.partition("@")
        if not ref:
            raise ConfigError([f"--device {text!r}: expected UNIT:PROFILE[@FIRMWARE]"])
        unit = _int(unit_text, f"--device {text!r}: expected UNIT:PROFILE")
        entry: dict[str, Any] = {"unit": unit, "profile": ref, "holes": holes, "faults": faults_by_unit.pop(unit, [])}
        if firmware:
            entry["firmware"] = firmware
        if turnaround_ms is not None:
            entry["turnaround_ms"] = turnaround_ms
        device_specs.append(entry)
    if faults_by_unit:
        raise ConfigError([f"--fault for unit(s) {sorted(faults_by_unit)} that no --device simulates"])
    buses: list[dict[str, Any]] = []
    if port:
        serial = {"port": port, "baud": baud, "parity": parity, "stopbits": stopbits, "wire_timing": wire_timing}
        buses.append({"serial": serial, "devices": device_specs})
    for framing, endpoints in (("socket", tcp), ("rtu", rtu_over_tcp)):
        for endpoint in endpoints:
            host, _, port_text = endpoint.rpartition(":")
            tcp_port = _int(port_text, f"{endpoint!r}: expected HOST:PORT")
            entry = {"host": host or "127.0.0.1", "port": tcp_port, "framing": framing}
            if framing == "rtu":
                entry.update(wire_timing=wire_timing, baud=baud)
            buses.append({"tcp": entry, "devices": device_specs})
    data: dict[str, Any] = {"buses": buses}
    if profiles_dir is not None:
        data["profiles_dir"] = str(profiles_dir)
    return validate_spec(YamlDocument(source="<command line>", data=data))


def _int(text: str, message: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError([message]) from None


async def _run(servers: list[SimServer], duration: float | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_servers(servers, _print_ready))
    if sys.stdin is not None and not sys.stdin.closed:
        threading.Thread(target=_read_commands, args=(loop, servers, stop), daemon=True).start()
    waiters = [asyncio.create_task(stop.wait()), task]
    try:
        await asyncio.wait(waiters, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    if task.done() and not task.cancelled() and (error := task.exception()) is not None:
        raise error


def _print_ready(servers: list[SimServer]) -> None:
    for server in servers:
        where = (
            f"{server.port} @ {server.timing.baud} baud"
            if isinstance(server, SimulatedBus)
            else f"tcp://{server.host}:{server.port} ({server.framing})"
        )
        units = ", ".join(f"{u}={d.profile.id}" for u, d in sorted(server.devices.items()))
        sys.stdout.write(f"serving {where}: {units}\n")
    sys.stdout.write("ready\n")
    sys.stdout.flush()


def _read_commands(loop: asyncio.AbstractEventLoop, servers: list[SimServer], stop: asyncio.Event) -> None:
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            loop.call_soon_threadsafe(stop.set)
            return
        if words[0] != "fault" or len(words) != 3:
            sys.stderr.write("commands: 'fault UNIT FAULT[,FAULT...]', 'fault UNIT none', 'quit'\n")
            continue
        loop.call_soon_threadsafe(_apply_fault, servers, words[1], words[2])
    # end of stdin (a background run) is not a request to stop


def _apply_fault(servers: list[SimServer], unit_text: str, faults_text: str) -> None:
    try:
        unit = int(unit_text)
        faults = [] if faults_text == "none" else [parse_fault(f) for f in faults_text.split(",")]
    except ValueError as exc:
        sys.stderr.write(f"edgepost: error: {exc}\n")
        return
    found = [s.devices[unit] for s in servers if unit in s.devices]
    if not found:
        sys.stderr.write(f"edgepost: error: unit {unit} is not simulated\n")
    for device in found:
        device.set_faults(list(faults))
        sys.stdout.write(f"unit {unit}: faults {device.faults}\n")
    sys.stdout.flush()

