"""Write validation happens before anything reaches the wire."""

from __future__ import annotations

import pytest

from agent.errors import WriteRejected
from drivers.modbus.profile import Access, DataType, Point, Profile, Table
from drivers.modbus.transport import WriteCoils, WriteRegisters
from drivers.modbus.writes import plan_write

PROFILE = Profile(
    id="acme/lamp",
    vendor="acme",
    model="lamp",
    source="test",
    points={
        "dimming": Point(table=Table.HOLDING, address=10, type=DataType.UINT16, access=Access.RW, min=0, max=100),
        "relay": Point(table=Table.COIL, address=0, type=DataType.BOOL, access=Access.RW),
        "mode": Point(table=Table.HOLDING, address=11, access=Access.W, enum={0: "auto", 1: "manual", 2: "off"}),
        "setpoint": Point(table=Table.HOLDING, address=12, type=DataType.INT32, access=Access.RW, scale=0.1),
        "power": Point(table=Table.INPUT, address=0, type=DataType.FLOAT32),
        "label": Point(table=Table.HOLDING, address=20, type=DataType.STRING, length=4, access=Access.RW),
        "status": Point(table=Table.HOLDING, address=30, access=Access.R),
    },
)


def write(point: str, value: object) -> WriteCoils | WriteRegisters:
    return plan_write("lamp1", 7, PROFILE, point, value)[1]  # type: ignore[arg-type]


def test_valid_writes_encode_to_the_right_function() -> None:
    assert write("dimming", 40) == WriteRegisters(7, 10, (40,))
    assert write("dimming", 40).function_code == 6
    assert write("relay", True) == WriteCoils(7, 0, (True,))
    assert write("relay", True).function_code == 5
    assert write("mode", "manual") == WriteRegisters(7, 11, (1,))
    assert write("mode", 2) == WriteRegisters(7, 11, (2,))
    setpoint = write("setpoint", -1.5)
    assert setpoint == WriteRegisters(7, 12, (0xFFFF, 0xFFF1)) and setpoint.function_code == 16
    assert write("label", "ab") == WriteRegisters(7, 20, (0x6162, 0))


@pytest.mark.parametrize(
    ("point", "value", "reason"),
    [
        ("nope", 1, "no point 'nope'"),
        ("power", 1.0, "read-only"),
        ("status", 1, "read-only"),
        ("dimming", 101, "above the maximum 100"),
        ("dimming", -1, "below the minimum 0"),
        ("dimming", 1.5, "expected an integer"),
        ("dimming", "high", "expected a number"),
        ("dimming", True, "expected a number"),
        ("dimming", None, "a value is required"),
        ("dimming", float("nan"), "finite"),
        ("relay", 2, "expected true/false"),
        ("relay", "on", "expected true/false"),
        ("mode", "dim", "is not one of: auto, manual, off"),
        ("mode", 7, "is not one of the codes"),
        ("label", 5, "expected a string"),
        ("label", "too long", "longer than 4 bytes"),
        ("setpoint", 1e12, "outside what int32 holds"),
    ],
)
def test_bad_writes_are_rejected_with_a_reason(point: str, value: object, reason: str) -> None:
    with pytest.raises(WriteRejected) as info:
        write(point, value)
    assert info.value.device == "lamp1" and info.value.point == point
    assert reason in info.value.reason
