"""Issue 12, the command line: reading without a config, and writes that are safe to type.

The real ``edgepost`` script against ``edgepost simulate`` on a socat pty pair (``technician_line``):
- ``read DEVICE`` reads every point; ``read --port --unit --profile`` needs no config file;
- a raw write outside the profile's range for that register warns and needs ``--yes``;
- a write to a comms register (unit address, baud, parity) asks first;
- a value the register cannot hold exactly is reported as the value actually written.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from agent.cli.exit_codes import ExitCode
from drivers.modbus.profiles import ProfileRegistry
from tests.integration.cli.technician_line import DIMMER, DIMMER_UNIT, METER, METER_UNIT, Bench, bench, one_line_error

pytestmark = pytest.mark.hardware

DIMMER_PROFILE = ProfileRegistry.load().get(DIMMER)
MODBUS_ADDRESS = DIMMER_PROFILE.points["modbus_address"].address  # 0x4000


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    with bench(tmp_path_factory.mktemp("writes")) as made:
        yield made


def raw_register(line: Bench, address: int, unit: int = DIMMER_UNIT) -> int:
    done = line.raw("--json", "read", "--unit", str(unit), "--address", str(address))
    assert done.returncode == 0, done.stderr
    values = orjson.loads(done.stdout)["values"]
    assert isinstance(values, list) and len(values) == 1
    return int(values[0])


# ------------------------------------------------------------------------------------- reading


def test_read_device_reads_every_point(line: Bench) -> None:
    done = line.with_config("--json", "read", "dimmer")
    assert done.returncode == 0, done.stderr
    readings = orjson.loads(done.stdout)
    readable = {name for name, point in DIMMER_PROFILE.points.items() if point.access.readable}
    assert {r["point"] for r in readings} == readable
    assert all(r["device"] == "dimmer" and r["quality"] == "good" for r in readings)
    by_name = {r["point"]: r for r in readings}
    assert by_name["modbus_address"]["value"] == 1 and by_name["dim_1"]["unit"] == "V"
    human = line.with_config("read", "dimmer")
    assert human.returncode == 0 and "dimmer.dim_8 = " in human.stdout and "dimmer.software_version" in human.stdout


def test_read_a_point_with_no_config_file(line: Bench) -> None:
    done = line.run("--json", "read", "--port", line.port, "--unit", str(METER_UNIT), "--profile", METER, "voltage")
    assert done.returncode == 0, done.stderr
    reading = orjson.loads(done.stdout)
    assert reading["point"] == "voltage" and reading["unit"] == "V" and 100 < reading["value"] < 300


def test_read_every_point_with_no_config_file(line: Bench) -> None:
    done = line.run("--json", "read", "--port", line.port, "--unit", str(DIMMER_UNIT), "--profile", DIMMER)
    assert done.returncode == 0, done.stderr
    names = {r["point"] for r in orjson.loads(done.stdout)}
    assert {"dim_1", "dim_8", "modbus_address"} <= names


def test_read_with_no_config_and_an_unknown_profile_names_the_close_one(line: Bench) -> None:
    done = line.run("read", "--port", line.port, "--unit", "3", "--profile", "waveshare/analog-output-8ch", "dim_1")
    assert done.returncode == ExitCode.USAGE
    assert DIMMER in one_line_error(done)


# ------------------------------------------------------------------------------------- raw range


def test_raw_write_outside_the_profile_range_warns_and_needs_yes(line: Bench) -> None:
    # 20000 mV on dim_2 is 20 V; the profile allows 0..10 V. The config says unit 3 is that dimmer.
    address = DIMMER_PROFILE.points["dim_2"].address
    before = raw_register(line, address)
    refused = line.with_config("write", "--bus", "bus1", "--unit", "3", "--address", str(address), "20000", stdin="")
    assert refused.returncode == ExitCode.FAILED
    assert "dim_2" in refused.stderr and "20 V" in refused.stderr and "0..10 V" in refused.stderr
    assert "not sent" in refused.stderr and "Traceback" not in refused.stderr
    assert raw_register(line, address) == before
    sent = line.with_config("write", "--bus", "bus1", "--unit", "3", "--address", str(address), "20000", "--yes")
    assert sent.returncode == 0, sent.stderr
    assert "dim_2" in sent.stderr  # the warning is still shown
    assert raw_register(line, address) == 20000


def test_raw_write_with_profile_and_no_config_warns_too(line: Bench) -> None:
    address = DIMMER_PROFILE.points["dim_4"].address
    before = raw_register(line, address)
    refused = line.raw("write", "--unit", "3", "--profile", DIMMER, "--address", str(address), "12000")
    assert refused.returncode == ExitCode.FAILED and "dim_4" in refused.stderr
    assert raw_register(line, address) == before


def test_raw_write_inside_the_range_is_not_questioned(line: Bench) -> None:
    address = DIMMER_PROFILE.points["dim_5"].address
    done = line.with_config("write", "--bus", "bus1", "--unit", "3", "--address", str(address), "4500")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert raw_register(line, address) == 4500


# ------------------------------------------------------------------------------------- comms


def test_a_comms_register_write_asks_first(line: Bench) -> None:
    refused = line.with_config("write", "dimmer", "modbus_address", "7", stdin="n\n")
    assert refused.returncode == ExitCode.FAILED
    assert "communication setting" in refused.stderr and "not sent" in refused.stderr
    assert raw_register(line, MODBUS_ADDRESS) == 1
    # raw, at the same register: the same question
    raw = line.with_config("write", "--bus", "bus1", "--unit", "3", "--address", hex(MODBUS_ADDRESS), "7", stdin="n\n")
    assert raw.returncode == ExitCode.FAILED and "modbus_address" in raw.stderr
    assert raw_register(line, MODBUS_ADDRESS) == 1


def test_a_comms_register_write_goes_out_when_confirmed(line: Bench) -> None:
    # the simulator keeps answering at unit 3 whatever the register says: only the register changes
    done = line.with_config("write", "dimmer", "modbus_address", "3", stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert raw_register(line, MODBUS_ADDRESS) == 3
    again = line.with_config("write", "dimmer", "modbus_address", "1", "--yes")
    assert again.returncode == 0, again.stderr
    assert raw_register(line, MODBUS_ADDRESS) == 1


# ------------------------------------------------------------------------------------- exact value


def test_a_value_the_register_cannot_hold_is_reported_as_written(line: Bench) -> None:
    done = line.with_config("--json", "write", "dimmer", "dim_3", "0.0004")
    assert done.returncode == 0, done.stderr
    answer = orjson.loads(done.stdout)
    assert answer["value"] == 0.0004 and answer["written"] == 0
    human = line.with_config("write", "dimmer", "dim_3", "1.2344")
    assert human.returncode == 0, human.stderr
    assert "1.234 V" in human.stdout and "1.2344" in human.stdout and "exactly" in human.stdout
    assert raw_register(line, DIMMER_PROFILE.points["dim_3"].address) == 1234


def test_an_exact_value_is_reported_plainly(line: Bench) -> None:
    done = line.with_config("write", "dimmer", "dim_6", "2.5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "dimmer.dim_6 <- 2.5 V"
