"""The shared RS-485 line: one queue whatever the protocol, a clean hand-over between masters, one
port per physical line (by any of its names), one framing per line, state changes told to every bus."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.errors import ConfigError, TransportError
from drivers.serialbus.line import LineSettings
from drivers.serialbus.lines import acquire_line, lines_in_use
from drivers.serialbus.link import LinkChange, LinkState


class FakeMaster:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.opens = 0

    def opened(self) -> None:
        self.opens += 1

    async def hand_over(self) -> None:
        self.log.append(f"{self.name} hands over")
        await asyncio.sleep(0.01)  # e.g. waiting out its silent device's suspect window


async def test_masters_of_two_protocols_take_turns_and_hand_the_line_over(tmp_path: Path) -> None:
    line = acquire_line("rs1", LineSettings(str(tmp_path / "ttyS9"), 2400, 8, "E", 1))
    log: list[str] = []
    modbus, dlt645 = FakeMaster("modbus", log), FakeMaster("dlt645", log)
    line.attach(modbus)
    line.attach(dlt645)
    line.keeper.state = LinkState.OPEN  # no port behind this test: the queue alone

    async def transaction(master: FakeMaster, index: int) -> None:
        async with line.turn(master):
            log.append(f"{master.name} {index} starts")
            await asyncio.sleep(0.005)
            log.append(f"{master.name} {index} ends")

    await asyncio.gather(*(transaction(m, i) for i, m in enumerate([modbus, modbus, dlt645, modbus, dlt645])))
    assert log == [
        "modbus 0 starts", "modbus 0 ends", "modbus 1 starts", "modbus 1 ends",
        "modbus hands over", "dlt645 2 starts", "dlt645 2 ends",
        "dlt645 hands over", "modbus 3 starts", "modbus 3 ends",
        "modbus hands over", "dlt645 4 starts", "dlt645 4 ends",
    ]
    assert line.max_in_flight == 1 and line.hand_overs == 3
    line.release()


async def test_one_line_per_port_under_any_name_and_one_framing(tmp_path: Path) -> None:
    device = tmp_path / "ttyUSB0"
    device.touch()
    alias = tmp_path / "by-id-adapter"
    os.symlink(device, alias)
    first = acquire_line("modbus-rs1", LineSettings(str(device), 2400, 8, "E", 1))
    second = acquire_line("meters", LineSettings(str(alias), 2400, 8, "E", 1))
    assert first is second and first.holders == 2
    with pytest.raises(ConfigError, match="already used by bus 'modbus-rs1' at 2400 8E1, not 9600 8N1"):
        acquire_line("other", LineSettings(str(device), 9600))
    first.release()
    assert lines_in_use() == [first]
    second.release()
    assert lines_in_use() == []
    assert acquire_line("again", LineSettings(str(device), 9600)) is not first


async def test_every_bus_on_the_line_hears_the_port_state_under_its_own_name(tmp_path: Path) -> None:
    line = acquire_line("modbus-rs1", LineSettings(str(tmp_path / "missing"), 2400))
    line.holders += 1  # a second bus holds it too
    heard: list[tuple[str, str]] = []
    changed = asyncio.Event()

    async def listener(change: LinkChange) -> None:
        heard.append((change.bus, str(change.state)))
        changed.set()

    async def hear(condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not condition():
                changed.clear()
                await changed.wait()

    with pytest.raises(TransportError):  # PortMissing: one attempt, no port
        await line.open()
    keeping = [asyncio.create_task(line.keep("modbus-rs1", listener))]
    await asyncio.sleep(0.01)
    keeping.append(asyncio.create_task(line.keep("meters", listener)))
    await hear(lambda: len(heard) >= 2)
    assert sorted(heard) == [("meters", "port missing"), ("modbus-rs1", "port missing")]
    keeping[0].cancel()  # the bus running the keeper stops: the other one takes it over
    await asyncio.gather(keeping[0], return_exceptions=True)
    (tmp_path / "missing").touch()  # not a tty: the next attempt fails to open, a change both hear
    line.keeper.retry_now()
    await hear(lambda: ("meters", "open failed") in heard)
    assert ("modbus-rs1", "open failed") not in heard  # stopped listening with its task
    keeping[1].cancel()
    await asyncio.gather(keeping[1], return_exceptions=True)
    line.release()
    line.release()
