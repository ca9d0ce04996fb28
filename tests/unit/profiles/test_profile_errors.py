"""Bad profiles are refused with exact ``file:line:col path: message`` lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ProfileError
from drivers.modbus.profiles import ProfileRegistry
from tests.unit.profiles.profile_tree import relative, write


def problems(root: Path) -> list[str]:
    return relative(ProfileRegistry.load(root).errors, root)


def test_overlapping_registers(root: Path) -> None:
    write(
        root,
        "acme/meter",
        """\
        vendor: Acme
        model: Meter
        source: x
        points:
          voltage:
            table: input
            address: 0
            type: float32
          current:
            table: input
            address: 1
            type: float32
          coil_same_address:
            table: coil
            address: 1
        """,
    )
    assert problems(root) == [
        "firmware_profiles/acme/meter.yaml:11:5 points.current.address: input 1..2 overlaps points.voltage (input 0..1)"
    ]


def test_float32_at_odd_length(root: Path) -> None:
    write(
        root,
        "acme/meter",
        """\
        vendor: Acme
        model: Meter
        source: x
        points:
          power: {table: input, address: 12, type: float32, length: 3}
        """,
    )
    assert problems(root) == [
        "firmware_profiles/acme/meter.yaml:5:53 points.power.length: "
        "float32 takes 2 registers (4 bytes), length 3 is odd"
    ]


def test_length_disagreeing_with_type(root: Path) -> None:
    write(
        root,
        "acme/meter",
        """\
        vendor: Acme
        model: Meter
        source: x
        points:
          energy: {table: input, address: 0, type: uint64, length: 6}
          ok_registers: {table: input, address: 10, type: int32, length: 2}
          ok_bytes: {table: input, address: 12, type: int32, length: 4}
          name: {table: holding, address: 20, type: string}
        """,
    )
    assert problems(root) == [
        "firmware_profiles/acme/meter.yaml:5:52 points.energy.length: "
        "uint64 takes 4 registers (8 bytes), length 6 disagrees",
        "firmware_profiles/acme/meter.yaml:8:39 points.name.type: a string needs 'length' (in bytes)",
    ]


def test_write_range_outside_type(root: Path) -> None:
    write(
        root,
        "acme/dimmer",
        """\
        vendor: Acme
        model: Dimmer
        source: x
        points:
          level:
            table: holding
            address: 0
            type: uint16
            scale: 0.001
            access: rw
            min: -1
            max: 70
        """,
    )
    assert problems(root) == [
        "firmware_profiles/acme/dimmer.yaml:11:5 points.level.min: -1 is outside what uint16 with scale 0.001 "
        "and offset 0 can hold (0..65.535)",
        "firmware_profiles/acme/dimmer.yaml:12:5 points.level.max: 70 is outside what uint16 with scale 0.001 "
        "and offset 0 can hold (0..65.535)",
    ]


def test_missing_base_in_extends(root: Path) -> None:
    write(root, "acme/tilt", "vendor: Acme\nmodel: Tilt\nsource: x\npoints: {}\n")
    write(
        root,
        "acme/tilt-v2",
        """\
        # a newer firmware
        extends: acme/tlit
        firmware: {min: "2"}
        """,
    )
    assert problems(root) == [
        "firmware_profiles/acme/tilt-v2.yaml:2:1 extends: unknown base profile 'acme/tlit' (did you mean 'acme/tilt'?)"
    ]


def test_extends_cycle(root: Path) -> None:
    write(root, "acme/a", "extends: acme/b\nfirmware: {min: '1'}\n")
    write(root, "acme/b", "extends: acme/a\nfirmware: {min: '2'}\n")
    assert problems(root) == [
        "firmware_profiles/acme/a.yaml:1:1 extends: base profile 'acme/b' is invalid",
        "firmware_profiles/acme/b.yaml:1:1 extends: inheritance cycle acme/a -> acme/b -> acme/a",
    ]


def test_unknown_key(root: Path) -> None:
    write(
        root,
        "acme/meter",
        """\
        vendor: Acme
        model: Meter
        source: x
        points:
          voltage:
            table: input
            address: 0
            colour: red
        """,
    )
    assert problems(root) == ["firmware_profiles/acme/meter.yaml:8:5 points.voltage.colour: unknown key"]


def test_duplicate_key(root: Path) -> None:
    write(
        root,
        "acme/meter",
        """\
        vendor: Acme
        model: Meter
        source: x
        points:
          voltage:
            table: input
            address: 0
            address: 2
        """,
    )
    assert problems(root) == ["firmware_profiles/acme/meter.yaml:8:5 points.voltage.address: duplicate key"]


def test_type_and_table_rules(root: Path) -> None:
    write(
        root,
        "acme/box",
        """\
        vendor: Acme
        model: Box
        source: x
        points:
          door: {table: discrete, address: 0, type: uint16}
          temperature: {table: input, address: 0, type: int16, access: rw}
          mode: {table: holding, address: 0, type: float32, enum: {0: off}}
          flags: {table: holding, address: 2, type: uint16, bits: {0: fault}}
          status: {table: holding, address: 3, type: bitfield, bits: {16: nope}}
        alarms:
          hot: {point: temprature, above: 60}
          text: {point: mode, above: 1}
        """,
    )
    assert problems(root) == [
        "firmware_profiles/acme/box.yaml:5:39 points.door.type: a discrete point must be bool, got uint16",
        "firmware_profiles/acme/box.yaml:6:56 points.temperature.access: the input table is read-only, "
        "access must be 'r', got 'rw'",
        "firmware_profiles/acme/box.yaml:7:53 points.mode.enum: enum labels need an integer type, got float32",
        "firmware_profiles/acme/box.yaml:8:53 points.flags.bits: bits need type bitfield, got uint16",
        "firmware_profiles/acme/box.yaml:9:63 points.status.bits.16: bit numbers are 0..15, got 16",
        "firmware_profiles/acme/box.yaml:11:9 alarms.hot.point: "
        "unknown point 'temprature' (did you mean 'temperature'?)",
        "firmware_profiles/acme/box.yaml:12:10 alarms.text.point: an alarm needs a numeric point, 'mode' is not",
    ]


def test_pydantic_errors_are_positioned(root: Path) -> None:
    write(
        root,
        "acme/meter",
        """\
        vendor: Acme
        model: Meter
        source: x
        firmware: {min: 1.2}
        points:
          voltage: {table: inputs, address: 70000}
        """,
    )
    lines = problems(root)
    assert lines[0] == "firmware_profiles/acme/meter.yaml:4:12 firmware.min: Input should be a valid string, got 1.2"
    assert lines[1].startswith("firmware_profiles/acme/meter.yaml:6:13 points.voltage.table: Input should be")
    assert lines[2] == (
        "firmware_profiles/acme/meter.yaml:6:28 points.voltage.address: "
        "Input should be less than or equal to 65535, got 70000"
    )


def test_bad_firmware_range(root: Path) -> None:
    write(root, "acme/meter", 'vendor: Acme\nmodel: M\nsource: x\nfirmware: {min: "2.1", max: "v1.9"}\npoints: {}\n')
    assert problems(root) == ["firmware_profiles/acme/meter.yaml:4:12 firmware.min: min 2.1 is above max v1.9"]
    write(root, "acme/meter", 'vendor: Acme\nmodel: M\nsource: x\nfirmware: {max: "1.x"}\npoints: {}\n')
    assert problems(root) == [
        "firmware_profiles/acme/meter.yaml:4:12 firmware.max: expected a dotted version like 1.2.3, got '1.x'"
    ]


def test_one_bad_file_does_not_hide_the_others(root: Path) -> None:
    write(root, "acme/good", "vendor: Acme\nmodel: Good\nsource: x\npoints: {v: {table: input, address: 0}}\n")
    write(root, "acme/broken", "vendor: Acme\nmodel: [unclosed\n")
    registry = ProfileRegistry.load(root)
    assert registry.ids() == ["acme/good"]
    assert list(registry.problems) == ["acme/broken"]
    assert registry.errors[0].startswith(f"{root}/acme/broken.yaml:")
    with pytest.raises(ProfileError) as raised:
        ProfileRegistry.load(root, strict=True)
    assert raised.value.problems == registry.errors


def test_missing_directory(tmp_path: Path) -> None:
    registry = ProfileRegistry.load(tmp_path / "nowhere")
    assert registry.ids() == []
    assert registry.errors == [f"{tmp_path / 'nowhere'}: profile directory does not exist"]


def test_identification_string_needs_length(root: Path) -> None:
    write(
        root,
        "acme/probe",
        """\
        vendor: Acme
        model: Probe
        source: x
        identification:
          registers:
            - {address: 0x0900, type: string}
        points: {}
        """,
    )
    assert problems(root) == [
        "firmware_profiles/acme/probe.yaml:6:25 identification.registers[0].type: a string needs 'length' (in bytes)"
    ]
