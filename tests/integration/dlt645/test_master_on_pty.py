"""The DL/T 645 line master against the profile-driven meter simulator on real socat pty pairs.

Every shipped profile's points read back as served; an unknown item is an abnormal reply; a silent
meter times out while its neighbour still answers; a damaged reply and a reply that comes after its
timeout are counted and never become values; broadcasts (time sync) are answered by nobody and
applied by every meter; relay control checks the password.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from agent.errors import DeviceTimeout
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.bcd import DataFormat
from drivers.dlt645.codes import ErrorKind
from drivers.dlt645.di import DataId
from drivers.dlt645.errors import AbnormalReply, Dlt645FramingError
from drivers.dlt645.requests import Password, RelayCommand, broadcast_time, read_address, read_data, relay_control
from drivers.modbus.simulator import SequenceSpec
from tests.integration.dlt645.helpers import PROFILES, line_master, meter, simulated_line

pytestmark = pytest.mark.hardware

M1 = MeterAddress.parse("000000000001")
M2 = MeterAddress.parse("000000000002")
M3 = MeterAddress.parse("000012345678")


def read(address: MeterAddress, profile: str, point: str, timeout_s: float = 2.0):  # type: ignore[no-untyped-def]
    spec = PROFILES.get(profile).points[point]
    return read_data(address, spec.data_id, spec.data_format, spec.signed, timeout_s=timeout_s)


async def test_every_point_of_every_shipped_profile_reads_back_as_served() -> None:
    meters = [
        meter("000000000001", "chint/dtsu666-dlt645", turnaround_ms=5),
        meter("000000000002", "chint/ddsu666-dlt645", turnaround_ms=5),
        meter("000012345678", "clou/dsz719", turnaround_ms=5),
    ]
    assert {m.profile.id for m in meters} == set(PROFILES.ids())
    with simulated_line(meters, baud=19200) as (port, line):
        async with line_master(port, baud=19200) as master:
            for simulated in meters:
                for name, point in simulated.profile.points.items():
                    tx = read_data(simulated.address, point.data_id, point.data_format, point.signed, timeout_s=2.0)
                    value = await master.request(tx)
                    assert value == simulated.value_of(name), f"{simulated.name}.{name}"
            assert master.counters.noise_bytes == 0
            assert all(c.mismatched == c.checksum_errors == c.timeouts == 0 for c in master.counters.senders.values())
    assert line.stats.answered == sum(len(m.profile.points) for m in meters)


async def test_at_2400_baud_8e1_the_briefs_items_read_with_their_scaling() -> None:
    served = {
        "voltage_a": 231.4, "current_a": -2.345, "active_power": -0.5432, "power_factor": 0.985,
        "frequency": 49.98, "import_energy": 123456.78,
    }
    with simulated_line([meter("000000000001", "chint/dtsu666-dlt645", served)]) as (port, _):
        async with line_master(port) as master:
            for name, value in served.items():
                assert await master.request(read(M1, "chint/dtsu666-dlt645", name)) == value, name
            assert await master.request(read(M1, "chint/dtsu666-dlt645", "meter_address")) == "000000000001"


async def test_an_unknown_item_is_an_abnormal_reply_with_its_kind() -> None:
    with simulated_line([meter("000000000001", "chint/ddsu666-dlt645")]) as (port, _):
        async with line_master(port) as master:
            tx = read_data(M1, DataId.parse("02 80 00 07"), DataFormat.parse("XXX.X"), signed=True)
            with pytest.raises(AbnormalReply) as caught:
                await master.request(tx)
            assert caught.value.kinds == (ErrorKind.NO_DATA,) and caught.value.exception_code == 0x02
            assert master.counters.of(M1.digits).abnormal == 1
            assert await master.request(read(M1, "chint/ddsu666-dlt645", "frequency")) == 50.0  # the line is fine


async def test_a_1997_meter() -> None:
    with simulated_line([meter("000012345678", "clou/dsz719", {"voltage_a": 228})]) as (port, _):
        async with line_master(port) as master:
            assert await master.request(read(M3, "clou/dsz719", "voltage_a")) == 228
            with pytest.raises(AbnormalReply) as caught:
                await master.request(read_data(M3, DataId.parse("B6FF"), DataFormat.parse("XXX")))
            assert caught.value.kinds == (ErrorKind.UNKNOWN_DI,)


async def test_read_address_finds_the_one_meter_and_two_collide() -> None:
    with simulated_line([meter("000012345678", "chint/ddsu666-dlt645")]) as (port, _):
        async with line_master(port) as master:
            assert await master.request(read_address()) == M3
    two = [meter("000000000001", "chint/ddsu666-dlt645"), meter("000000000002", "chint/ddsu666-dlt645")]
    with simulated_line(two) as (port, line):
        async with line_master(port) as master:
            with pytest.raises(Dlt645FramingError):
                await master.request(read_address())
            assert line.stats.collisions == 1


async def test_a_silent_meter_times_out_and_its_neighbour_still_answers() -> None:
    meters = [
        meter("000000000001", "chint/ddsu666-dlt645", faults=["silent"]),
        meter("000000000002", "chint/ddsu666-dlt645"),
    ]
    with simulated_line(meters) as (port, _):
        async with line_master(port) as master:
            with pytest.raises(DeviceTimeout):
                await master.request(read(M1, "chint/ddsu666-dlt645", "voltage", timeout_s=0.5))
            assert await master.request(read(M2, "chint/ddsu666-dlt645", "voltage")) == 230.0
            assert master.counters.of(M1.digits).timeouts == 1


async def test_a_corrupt_reply_is_a_framing_error_never_a_value() -> None:
    with simulated_line([meter("000000000001", "chint/ddsu666-dlt645", faults=["corrupt-crc"])]) as (port, line):
        async with line_master(port) as master:
            with pytest.raises(Dlt645FramingError, match="checksum"):
                await master.request(read(M1, "chint/ddsu666-dlt645", "voltage"))
            assert master.counters.of(M1.digits).checksum_errors == 1
            line.set_faults(M1.digits, [])
            assert await master.request(read(M1, "chint/ddsu666-dlt645", "voltage")) == 230.0


async def test_a_late_reply_never_answers_the_next_request() -> None:
    # every read serves the next voltage; the first answer comes ~1.1 s after the request, past its
    # 0.5 s timeout but inside the 1.5 s the line stays suspect afterwards
    volts = SequenceSpec(values=[221.0, 222.0, 223.0, 224.0])
    slow = meter("000000000001", "chint/ddsu666-dlt645", {"voltage": volts}, faults=["slow:900"])
    with simulated_line([slow]) as (port, line):
        async with line_master(port, late_reply_s=1.5) as master:
            with pytest.raises(DeviceTimeout):
                await master.request(read(M1, "chint/ddsu666-dlt645", "voltage", timeout_s=0.5))
            line.set_faults(M1.digits, [])
            # the same request again: the late 221.0 must not be taken for its answer
            assert await master.request(read(M1, "chint/ddsu666-dlt645", "voltage")) == 222.0
            assert master.counters.of(M1.digits).mismatched == 1  # the late frame, counted
            assert await master.request(read(M1, "chint/ddsu666-dlt645", "voltage")) == 223.0


async def test_a_late_reply_for_another_item_is_skipped_while_waiting() -> None:
    # no suspect window: the late voltage frame arrives while the master waits for the current
    slow = meter("000000000001", "chint/ddsu666-dlt645", {"voltage": 221.0, "current": 1.5}, faults=["slow:900"])
    with simulated_line([slow]) as (port, line):
        async with line_master(port, late_reply_s=0.0) as master:
            with pytest.raises(DeviceTimeout):
                await master.request(read(M1, "chint/ddsu666-dlt645", "voltage", timeout_s=0.5))
            line.set_faults(M1.digits, [])
            assert await master.request(read(M1, "chint/ddsu666-dlt645", "current", timeout_s=3.0)) == 1.5
            assert master.counters.of(M1.digits).mismatched == 1


async def test_time_sync_is_a_broadcast_every_meter_applies() -> None:
    meters = [meter("000000000001", "chint/ddsu666-dlt645"), meter("000000000002", "chint/dtsu666-dlt645")]
    when = datetime(2026, 12, 7, 17, 45, 30)
    with simulated_line(meters) as (port, line):
        async with line_master(port) as master:
            await master.broadcast(broadcast_time(when))
            assert await master.request(read(M2, "chint/dtsu666-dlt645", "frequency")) == 50.0
    assert [m.clock_set_to for m in meters] == [when, when]
    assert line.stats.broadcasts == 1 and line.stats.answered == 1


async def test_relay_control_needs_the_password() -> None:
    relay_meter = meter("000000000001", "chint/ddsu666-dlt645", relay_password=Password(2, "123456"))
    until = datetime(2026, 12, 31, 23, 59)
    with simulated_line([relay_meter]) as (port, _):
        async with line_master(port) as master:
            with pytest.raises(AbnormalReply) as caught:
                await master.request(relay_control(M1, RelayCommand.TRIP, until, Password(2, "000000")))
            assert caught.value.kinds == (ErrorKind.UNAUTHORISED,) and relay_meter.relay is None
            assert await master.request(relay_control(M1, RelayCommand.TRIP, until, Password(2, "123456"))) is None
            assert relay_meter.relay is RelayCommand.TRIP
