"""Raw request limits and write safety, on the shipped dimmer and meter profiles (no I/O)."""

from __future__ import annotations

import pytest

from agent.errors import DeviceException, InvalidRequest
from drivers.modbus.codec import encode_point
from drivers.modbus.identify import score_basis
from drivers.modbus.profile import Table
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.raw_limits import check_raw_read, check_raw_write
from drivers.modbus.write_safety import ConcernKind, differs, is_comms, raw_write_concerns, written_value

REGISTRY = ProfileRegistry.load()
DIMMER = REGISTRY.get("waveshare/analog-output-8ch-b")
METER = REGISTRY.get("eastron/sdm120")


@pytest.mark.parametrize(
    ("unit", "table", "address", "count", "says"),
    [
        (1, Table.HOLDING, 70000, 1, "--address must be 0..65535"),
        (1, Table.HOLDING, -1, 1, "--address must be 0..65535"),
        (1, Table.HOLDING, 0, 126, "1..125 holding registers"),
        (1, Table.COIL, 0, 2001, "1..2000 coil bits"),
        (1, Table.INPUT, 65535, 2, "run past the last address"),
        (248, Table.HOLDING, 0, 1, "--unit must be 1..247"),
    ],
)
def test_raw_reads_beyond_the_protocol_are_refused(
    unit: int, table: Table, address: int, count: int, says: str
) -> None:
    with pytest.raises(InvalidRequest, match=says):
        check_raw_read(unit, table, address, count)


def test_raw_reads_at_the_limits_pass() -> None:
    check_raw_read(247, Table.HOLDING, 65535 - 124, 125)
    check_raw_read(1, Table.DISCRETE, 0, 2000)


@pytest.mark.parametrize(
    ("table", "values", "says"),
    [
        (Table.HOLDING, [70000], "a register holds 0..65535"),
        (Table.HOLDING, [-5], "here 0xFFFB"),
        (Table.COIL, [2], "a coil is 0 or 1"),
        (Table.INPUT, [1], "read-only"),
        (Table.HOLDING, [0] * 124, "1..123 holding registers"),
        (Table.HOLDING, [], "1..123"),
    ],
)
def test_raw_writes_beyond_the_protocol_are_refused(table: Table, values: list[int], says: str) -> None:
    with pytest.raises(InvalidRequest, match=says):
        check_raw_write(1, table, 0, values)


def test_a_broadcast_write_is_a_valid_request() -> None:
    check_raw_write(0, Table.HOLDING, 2, [1000])


def test_exceptions_read_in_plain_words() -> None:
    error = DeviceException("bus1/unit1", 0x03, 2)
    assert str(error) == "bus1/unit1: illegal data address (exception 2)"
    assert "exception 99" in str(DeviceException("u", 3, 99))


def test_comms_points_by_flag_and_by_name() -> None:
    assert is_comms("modbus_address", DIMMER.points["modbus_address"])
    assert is_comms("network_parity", METER.points["network_parity"])
    assert is_comms("baud_rate_code", METER.points["baud_rate_code"])
    # a name alone, for a site profile that predates the flag
    assert is_comms("slave_id", DIMMER.points["dim_1"])
    assert not is_comms("dim_1", DIMMER.points["dim_1"])
    assert not is_comms("software_version", DIMMER.points["software_version"])


def test_raw_write_concerns_name_the_points_they_land_on() -> None:
    concerns = raw_write_concerns(DIMMER, Table.HOLDING, 0, [20000, 5000])
    assert [(c.kind, c.point) for c in concerns] == [(ConcernKind.OUT_OF_RANGE, "dim_1")]
    assert "20 V" in concerns[0].message and "0..10 V" in concerns[0].message
    comms = raw_write_concerns(DIMMER, Table.HOLDING, 0x4000, [7])
    assert [(c.kind, c.point) for c in comms] == [(ConcernKind.COMMS, "modbus_address")]
    assert raw_write_concerns(DIMMER, Table.HOLDING, 5, [2500]) == []
    assert raw_write_concerns(DIMMER, Table.HOLDING, 0x100, [1]) == []  # no point there: nothing to say


def test_a_half_written_float_and_a_read_only_register_are_named() -> None:
    address_setting = METER.points["modbus_address"]  # float32 at holding 0x14..0x15
    partial = raw_write_concerns(METER, Table.HOLDING, address_setting.address + 1, [0])
    assert {c.kind for c in partial} == {ConcernKind.PARTIAL, ConcernKind.COMMS}
    read_only = raw_write_concerns(DIMMER, Table.HOLDING, 0x8000, [100])
    assert [c.kind for c in read_only] == [ConcernKind.READ_ONLY]


def test_written_value_is_what_the_register_holds() -> None:
    point = DIMMER.points["dim_1"]
    assert written_value(point, encode_point(point, 0.0004)) == 0
    assert written_value(point, encode_point(point, 1.2344)) == 1.234
    assert differs(0.0004, 0) and differs(1.2344, 1.234)
    assert not differs(2.5, 2.5) and not differs("on", "on") and not differs(True, True)


def test_score_basis_in_words() -> None:
    assert score_basis(1.0, 3, 3) == "3 of 3 identification value(s) match (a sure match)"
    assert score_basis(0.5, 1, 2) == "1 of 2 identification value(s) match"
    assert score_basis(0.5, 0, 0).startswith("weak: the profile declares no values to compare")
    assert "50%" in score_basis(0.25, 0, 0)
