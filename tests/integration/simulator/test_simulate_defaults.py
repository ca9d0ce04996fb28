"""``edgepost simulate`` with no spec: every point serves a plausible value (not 0.000 Hz), on a pty."""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus.client import ModbusSerialClient

from tests.fixtures.serial import socat_pty_pair

pytestmark = pytest.mark.hardware

EDGEPOST = Path(sys.executable).parent / "edgepost"


@pytest.fixture
def line() -> Iterator[ModbusSerialClient]:
    with socat_pty_pair() as (master, slave):
        proc = subprocess.Popen(
            [str(EDGEPOST), "simulate", "--port", slave, "--baud", "38400",
             "--device", "1:eastron/sdm120", "--device", "2:renke/rs-fsxcs-n01", "--device", "3:keller/series30"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        client = ModbusSerialClient(master, baudrate=38400, timeout=1.0, retries=1)
        try:
            assert proc.stdout is not None
            assert [proc.stdout.readline().strip() for _ in range(2)][-1] == "ready"
            assert client.connect()
            yield client
        finally:
            client.close()
            proc.kill()
            proc.communicate(timeout=10)


def float32(client: ModbusSerialClient, address: int, unit: int, holding: bool = False) -> float:
    read = client.read_holding_registers if holding else client.read_input_registers
    response = read(address, count=2, device_id=unit)
    assert not response.isError(), response
    return float(struct.unpack(">f", struct.pack(">2H", *response.registers))[0])


def test_the_points_a_newcomer_sees_first(line: ModbusSerialClient) -> None:
    frequencies = [float32(line, 0x46, 1) for _ in range(5)]
    assert all(49.9 < f < 50.1 for f in frequencies), frequencies
    energies = [float32(line, 0x48, 1) for _ in range(5)]
    assert energies[0] > 1000 and energies == sorted(energies), energies  # a counter, never falling
    assert 220 < float32(line, 0x00, 1) < 240  # mains voltage
    humidity = [line.read_holding_registers(0x1F8, count=1, device_id=2).registers[0] / 10 for _ in range(5)]
    assert all(40 <= h <= 90 for h in humidity) and len(set(humidity)) > 1, humidity  # it drifts
    level = float32(line, 0x100, 3, holding=True)
    assert 0.05 < level < 0.3  # water over the probe, below the profile's high-water alarm (0.3 bar)
