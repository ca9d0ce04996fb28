"""A socat pty pair with simulated DL/T 645 meters on one end and the line master on the other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from drivers.dlt645.master import LineMaster
from drivers.dlt645.profiles import Dlt645Profiles
from drivers.dlt645.simulator import SimulatedDlt645Line, SimulatedMeter, run_in_thread
from drivers.serialbus.serial_link import SerialLink
from tests.fixtures.serial import socat_pty_pair

PROFILES = Dlt645Profiles.load()


def meter(address: str, profile: str, generators: dict[str, Any] | None = None, **kwargs: Any) -> SimulatedMeter:
    return SimulatedMeter(address, PROFILES.get(profile), generators, **kwargs)


@contextmanager
def simulated_line(
    meters: list[SimulatedMeter], baud: int = 2400, **options: Any
) -> Iterator[tuple[str, SimulatedDlt645Line]]:
    """``(master_port, line)``: the meters answer on one end of a pty pair (own thread and loop)."""
    with socat_pty_pair() as (master_port, meter_port):
        line = SimulatedDlt645Line(meter_port, meters, baud=baud, **options)
        with run_in_thread(line):
            yield master_port, line


@asynccontextmanager
async def line_master(port: str, baud: int = 2400, **options: Any) -> AsyncIterator[LineMaster]:
    """The master on ``port``. A pty refuses parity (its reconfiguration fails with EINVAL), so the
    port is opened 8N1; the wire time stays 8E1's 11 bits a character, which the simulator models."""
    async with SerialLink(port, baud, 8, "N", 1) as link:
        yield LineMaster(f"pty{port}", link, 11 / baud, **options)
