"""A simulated device answers request PDUs like the real one: values, holes, writes, exceptions."""

from __future__ import annotations

import pytest
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadDiscreteInputsRequest,
    WriteMultipleCoilsRequest,
    WriteSingleCoilRequest,
)
from pymodbus.pdu.mei_message import ReadDeviceInformationRequest
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

from drivers.modbus.codec import decode_point, encode_point
from drivers.modbus.simulator import SequenceSpec, SimulatedDevice, SineSpec
from tests.unit.simulator.sim_profiles import meter_profile


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def registers(response: ModbusPDU) -> list[int]:
    assert not response.isError(), response
    return list(response.registers)


def exception_code(response: ModbusPDU) -> int:
    assert isinstance(response, ExceptionResponse), response
    return response.exception_code


def test_reads_return_the_generator_values_encoded_by_the_codec() -> None:
    profile = meter_profile()
    clock = FakeClock()
    device = SimulatedDevice(
        1, profile,
        {"voltage": SineSpec(amplitude=10, period=4, offset=230), "current": 1.25, "energy": 123456},
        clock=clock,
    )
    clock.now += 1.0  # a quarter period: the sine is at its top
    words = registers(device.handle(ReadInputRegistersRequest(address=0, count=3)))
    assert decode_point(profile.points["voltage"], words[0:2]) == pytest.approx(240.0)
    assert decode_point(profile.points["current"], words[2:3]) == 1.25
    energy = registers(device.handle(ReadInputRegistersRequest(address=10, count=2)))
    assert energy == encode_point(profile.points["energy"], 123456)
    assert device.value_of("energy") == 123456


def test_points_without_a_generator_get_a_plausible_constant() -> None:
    device = SimulatedDevice(1, meter_profile())
    assert device.value_of("dim") == 50  # middle of min/max
    assert device.value_of("mode") == "auto"  # first enum value
    assert device.value_of("relay") is False


def test_a_sequence_advances_once_per_read_that_touches_the_point() -> None:
    profile = meter_profile()
    device = SimulatedDevice(1, profile, {"current": SequenceSpec(values=[1, 2, 3])})
    seen = []
    for _ in range(4):
        words = registers(device.handle(ReadInputRegistersRequest(address=2, count=1)))
        seen.append(decode_point(profile.points["current"], words))
    # the constructor fills the table once (value 1); each read then takes the next
    assert seen == [2, 3, 1, 2]


def test_unmapped_addresses_answer_illegal_address_unless_holes_are_allowed() -> None:
    profile = meter_profile()
    strict = SimulatedDevice(1, profile, {"current": 2.5, "energy": 7})
    assert exception_code(strict.handle(ReadInputRegistersRequest(address=0, count=12))) == 2
    assert exception_code(strict.handle(ReadInputRegistersRequest(address=4, count=1))) == 2
    lenient = SimulatedDevice(1, profile, {"current": 2.5, "energy": 7}, holes="allow")
    words = registers(lenient.handle(ReadInputRegistersRequest(address=0, count=12)))
    assert words[3:10] == [0] * 7
    assert words[2] == 250
    assert words[10:12] == encode_point(profile.points["energy"], 7)


def test_writes_update_the_table_and_stick_over_the_generator() -> None:
    profile = meter_profile()
    device = SimulatedDevice(1, profile, {"dim": SequenceSpec(values=[10, 20, 30])})
    echo = device.handle(WriteSingleRegisterRequest(address=20, registers=[77]))
    assert registers(echo) == [77]
    for _ in range(3):
        assert registers(device.handle(ReadHoldingRegistersRequest(address=20, count=1))) == [77]
    assert not device.handle(WriteMultipleRegistersRequest(address=20, registers=[5])).isError()
    assert device.value_of("dim") == 5
    assert not device.handle(WriteSingleCoilRequest(address=0, bits=[True])).isError()
    assert list(device.handle(ReadCoilsRequest(address=0, count=1)).bits)[:1] == [True]
    assert not device.handle(WriteMultipleCoilsRequest(address=0, bits=[False])).isError()
    assert device.value_of("relay") is False


def test_writes_to_read_only_or_unmapped_registers_are_refused() -> None:
    device = SimulatedDevice(1, meter_profile())
    assert exception_code(device.handle(WriteSingleRegisterRequest(address=21, registers=[1]))) == 2
    assert exception_code(device.handle(WriteSingleRegisterRequest(address=50, registers=[1]))) == 2
    assert device.value_of("mode") == "auto"


def test_bit_tables_and_unsupported_functions() -> None:
    device = SimulatedDevice(1, meter_profile(), {"door": True})
    bits = device.handle(ReadDiscreteInputsRequest(address=3, count=1)).bits
    assert list(bits)[:1] == [True]
    assert exception_code(device.handle(ReadDiscreteInputsRequest(address=0, count=4))) == 2
    odd = ReadHoldingRegistersRequest(address=0, count=1)
    odd.function_code = 0x2B  # device identification is not simulated
    assert exception_code(device.handle(odd)) == 1


def test_exception_fault_answers_every_request_and_can_be_cleared() -> None:
    device = SimulatedDevice(1, meter_profile(), faults=["exception:6"])
    assert exception_code(device.handle(ReadInputRegistersRequest(address=2, count=1))) == 6
    device.set_faults([])
    assert not device.handle(ReadInputRegistersRequest(address=2, count=1)).isError()


def test_identification_registers_hold_the_expected_values_and_the_firmware() -> None:
    device = SimulatedDevice(1, meter_profile(), {"version": 105}, firmware="2.10")
    assert registers(device.handle(ReadHoldingRegistersRequest(address=100, count=2))) == [4242, 210]
    # without an explicit firmware, a register that is also a profile point follows its generator
    plain = SimulatedDevice(1, meter_profile(), {"version": 105})
    assert registers(plain.handle(ReadHoldingRegistersRequest(address=100, count=2))) == [4242, 105]


def test_generator_values_that_overflow_the_type_are_clamped() -> None:
    profile = meter_profile()
    device = SimulatedDevice(1, profile, {"current": SineSpec(amplitude=1000, period=4, offset=0)})
    words = registers(device.handle(ReadInputRegistersRequest(address=2, count=1)))
    assert 0 <= words[0] <= 0xFFFF


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="no such points"):
        SimulatedDevice(1, meter_profile(), {"volts": 1})
    with pytest.raises(ValueError, match="unit id"):
        SimulatedDevice(0, meter_profile())
    with pytest.raises(ValueError, match="unknown fault"):
        SimulatedDevice(1, meter_profile(), faults=["sleepy"])


def test_device_identification_function_43_answers_from_the_profile() -> None:
    device = SimulatedDevice(1, meter_profile(), firmware="2.10")
    basic = device.handle(ReadDeviceInformationRequest(read_code=1))
    assert not basic.isError()
    assert basic.information == {0: b"Test Co", 1: b"TM-1", 2: b"2.10"}
    one = device.handle(ReadDeviceInformationRequest(read_code=4, object_id=5))
    assert one.information == {5: b"Meter"}
    assert exception_code(device.handle(ReadDeviceInformationRequest(read_code=4, object_id=0x40))) == 2
    plain = meter_profile().model_copy(update={"identification": meter_profile().identification.model_copy(
        update={"device_id": None})})
    assert exception_code(SimulatedDevice(1, plain).handle(ReadDeviceInformationRequest(read_code=1))) == 1
