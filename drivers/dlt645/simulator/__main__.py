"""``python -m drivers.dlt645.simulator``: serve simulated DL/T 645 meters on a serial port until stopped.

    python -m drivers.dlt645.simulator --port /dev/pts/5 \\
        --meter 000000000001:chint/ddsu666-dlt645 --value 000000000001:voltage=231.4 \\
        --meter 000000000002:chint/dtsu666-dlt645 --fault 000000000002:slow:300

Until the driver step wires DL/T 645 meters into ``edgepost simulate`` (and onto one line with
Modbus devices), this is how a technician's bench or the rig serves them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from agent.errors import ProfileError, TransportError
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.profiles import Dlt645Profiles
from drivers.dlt645.simulator.line import SimulatedDlt645Line
from drivers.dlt645.simulator.meter import SimulatedMeter
from drivers.dlt645.simulator.values import GeneratorLike
from drivers.modbus.simulator.faults import parse_fault


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m drivers.dlt645.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--port", required=True, help="serial device or pty path")
    parser.add_argument("--baud", type=int, default=2400)
    parser.add_argument("--parity", choices=["N", "E", "O"], default="E")
    parser.add_argument("--meter", action="append", default=[], metavar="ADDRESS:PROFILE", required=True)
    parser.add_argument("--fault", action="append", default=[], metavar="ADDRESS:FAULT",
                        help="silent, exception:<error byte>, corrupt-crc[:p], slow:<ms>, drop[:p]")
    parser.add_argument("--value", action="append", default=[], metavar="ADDRESS:POINT=VALUE")
    parser.add_argument("--profiles-dir", type=Path, default=None)
    parser.add_argument("--no-wire-timing", action="store_true", help="answer at once (a pty ignores baud)")
    return parser


def _split(text: str, what: str) -> tuple[str, str]:
    address, sep, rest = text.partition(":")
    if not sep or not rest:
        raise ValueError(f"{what} {text!r}: expected ADDRESS:...")
    return MeterAddress.parse(address).digits, rest


def _number(text: str) -> GeneratorLike:
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text


def build(args: argparse.Namespace) -> SimulatedDlt645Line:
    registry = Dlt645Profiles.load(args.profiles_dir)
    values: dict[str, dict[str, GeneratorLike]] = {}
    for text in args.value:
        address, assignment = _split(text, "--value")
        point, sep, value = assignment.partition("=")
        if not sep:
            raise ValueError(f"--value {text!r}: expected ADDRESS:POINT=VALUE")
        values.setdefault(address, {})[point] = _number(value)
    faults: dict[str, list[str]] = {}
    for text in args.fault:
        address, fault = _split(text, "--fault")
        parse_fault(fault)
        faults.setdefault(address, []).append(fault)
    meters = []
    for text in args.meter:
        address, profile = _split(text, "--meter")
        meters.append(
            SimulatedMeter(address, registry.get(profile), values.get(address), faults=list(faults.get(address, [])))
        )
    unknown = (set(values) | set(faults)) - {m.address.digits for m in meters}
    if unknown:
        raise ValueError(f"--value/--fault for {sorted(unknown)}, which no --meter simulates")
    timing = not args.no_wire_timing
    return SimulatedDlt645Line(args.port, meters, baud=args.baud, parity=args.parity, wire_timing=timing)


async def _serve(line: SimulatedDlt645Line) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await line.start()
    try:
        print(f"serving {len(line.meters)} DL/T 645 meter(s) on {line.port}: {', '.join(line.meters)}", flush=True)
        await stop.wait()
    finally:
        await line.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        line = build(args)
        asyncio.run(_serve(line))
    except (ValueError, ProfileError, TransportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
