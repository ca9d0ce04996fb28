"""``python -m drivers.dlt645.simulator`` as a technician runs it: serves meters on a pty until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest

from drivers.dlt645.address import MeterAddress
from drivers.dlt645.errors import AbnormalReply
from drivers.dlt645.requests import read_data
from tests.fixtures.serial import socat_pty_pair
from tests.integration.dlt645.helpers import PROFILES, line_master

pytestmark = pytest.mark.hardware


async def test_the_simulator_command_serves_values_faults_and_stops_on_sigterm() -> None:
    profile = PROFILES.get("chint/dtsu666-dlt645")
    with socat_pty_pair() as (master_port, meter_port):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "drivers.dlt645.simulator", "--port", meter_port,
            "--meter", "000000000007:chint/dtsu666-dlt645", "--value", "7:voltage_a=229.7",
            "--meter", "8:chint/ddsu666-dlt645", "--fault", "8:exception:4",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            async with asyncio.timeout(30):
                assert b"serving 2 DL/T 645 meter(s)" in await proc.stdout.readline()
            voltage = profile.points["voltage_a"]
            async with line_master(master_port) as master:
                tx = read_data(MeterAddress.parse("7"), voltage.data_id, voltage.data_format)
                assert await master.request(tx) == 229.7
                with pytest.raises(AbnormalReply, match="unauthorised"):
                    await master.request(read_data(MeterAddress.parse("8"), voltage.data_id, voltage.data_format))
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def test_a_bad_command_line_says_what_is_wrong() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "drivers.dlt645.simulator", "--port", "/dev/null", "--meter", "1:chint/dtsu66"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "unknown DL/T 645 profile 'chint/dtsu66'" in result.stderr and "Traceback" not in result.stderr
