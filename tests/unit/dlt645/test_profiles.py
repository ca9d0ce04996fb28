"""DL/T 645 profiles: the shipped ones, their place beside the Modbus ones, and errors that name the spot."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ProfileError
from drivers.dlt645.bcd import DataFormat
from drivers.dlt645.codes import Edition
from drivers.dlt645.profiles import Dlt645Profiles
from drivers.modbus.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry


@pytest.fixture(scope="module")
def shipped() -> Dlt645Profiles:
    return Dlt645Profiles.load(DEFAULT_PROFILE_DIR, strict=True)


def test_shipped_meters_load_and_state_sources_and_doubts(shipped: Dlt645Profiles) -> None:
    assert {"chint/dtsu666-dlt645", "chint/ddsu666-dlt645", "clou/dsz719"} <= set(shipped.ids())
    for profile in shipped.all():
        sources = [profile.source] if isinstance(profile.source, str) else profile.source
        assert sources and all(s.strip() for s in sources), profile.id
        assert not profile.verified and profile.doubts, profile.id
        assert profile.points, profile.id
        for point in profile.points.values():
            assert point.data_id.width == profile.edition.di_width, profile.id


def test_chint_points_carry_the_standards_scaling(shipped: Dlt645Profiles) -> None:
    dtsu = shipped.get("chint/dtsu666")
    assert dtsu.id == "chint/dtsu666-dlt645" and dtsu.edition is Edition.V2007
    assert (dtsu.serial.baudrate, dtsu.serial.parity, dtsu.serial.stopbits) == (2400, "E", 1)
    expected = {
        "import_energy": ("00 01 00 00", "XXXXXX.XX", False, "kWh"),
        "voltage_a": ("02 01 01 00", "XXX.X", False, "V"),
        "current_a": ("02 02 01 00", "XXX.XXX", True, "A"),
        "active_power": ("02 03 00 00", "XX.XXXX", True, "kW"),
        "power_factor": ("02 06 00 00", "X.XXX", True, None),
        "frequency": ("02 80 00 02", "XX.XX", False, "Hz"),
    }
    for name, (di, fmt, signed, unit) in expected.items():
        point = dtsu.points[name]
        assert (point.di, point.format, point.signed, point.unit) == (di, fmt, signed, unit), name
    ddsu = shipped.get("chint/ddsu666")
    assert ddsu.points["voltage"].di == "02 01 01 00" and ddsu.alarms["undervoltage"].below == 207


def test_1997_meter(shipped: Dlt645Profiles) -> None:
    clou = shipped.get("clou/dsz719")
    assert clou.edition is Edition.V1997
    assert clou.points["voltage_a"].di == "B611" and clou.points["voltage_a"].data_format == DataFormat.parse("XXX")
    assert clou.points["import_energy"].data_id.wire == bytes.fromhex("10 90")


def test_the_modbus_registry_skips_dlt645_files_and_vice_versa(shipped: Dlt645Profiles) -> None:
    modbus = ProfileRegistry.load(DEFAULT_PROFILE_DIR, strict=True)
    assert "eastron/sdm120" in modbus.ids()
    assert not set(modbus.ids()) & set(shipped.ids())


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


HEADER = "driver: dlt645\nvendor: Test\nmodel: M1\nsource: test\n"


def test_a_point_may_leave_the_standards_fields_out(tmp_path: Path) -> None:
    write(tmp_path, "test/m1.yaml", HEADER + "points:\n  current: {di: '02 02 01 00'}\n")
    point = Dlt645Profiles.load(tmp_path, strict=True).get("test/m1").points["current"]
    assert (point.format, point.signed, point.unit) == ("XXX.XXX", True, "A")


@pytest.mark.parametrize(
    ("points", "where", "message"),
    [
        ("  volts: {di: 02010100, format: XXX.X}\n", "m1.yaml:6:", "quoted string"),
        ("  volts: {di: '02 01 01 00', format: XX.XX}\n", "m1.yaml:6:", "XXX.X unsigned in the standard"),
        ("  power: {di: '02 03 00 00', signed: false}\n", "m1.yaml:6:", "signed in the standard"),
        ("  odd: {di: '02 99 00 00'}\n", "m1.yaml:6:", "format"),
        ("  odd: {di: '02 99 00 00', format: X.X.X}\n", "m1.yaml:6:", "not a DL/T 645 format"),
        ("  volts: {di: 'B611', format: XXX}\n", "m1.yaml:6:", "2-byte DI in a DL/T 645-2007 profile"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, points: str, where: str, message: str) -> None:
    write(tmp_path, "test/m1.yaml", HEADER + "points:\n" + points)
    registry = Dlt645Profiles.load(tmp_path)
    assert registry.ids() == []
    assert len(registry.errors) >= 1
    assert any(where in e and message in e for e in registry.errors), registry.errors
    with pytest.raises(ProfileError):
        Dlt645Profiles.load(tmp_path, strict=True)


def test_a_deliberate_deviation_is_allowed(tmp_path: Path) -> None:
    point = "  volts: {di: '02 01 01 00', format: XXX.XX, nonstandard: true}\n"
    write(tmp_path, "test/m1.yaml", HEADER + "points:\n" + point)
    assert Dlt645Profiles.load(tmp_path, strict=True).get("test/m1").points["volts"].format == "XXX.XX"


def test_alarm_on_an_unknown_point_and_extends(tmp_path: Path) -> None:
    write(
        tmp_path,
        "test/m1.yaml",
        HEADER + "points:\n  voltage: {di: '02 01 01 00'}\nalarms:\n  low: {point: voltag, below: 200}\n",
    )
    errors = Dlt645Profiles.load(tmp_path).errors
    assert any("m1.yaml:8:" in e and "did you mean 'voltage'" in e for e in errors), errors
    write(tmp_path, "test/base.yaml", HEADER.replace("M1", "Base") + "points:\n  voltage: {di: '02 01 01 00'}\n")
    # a variant names its driver too: the Modbus registry would otherwise take it for one of its own
    variant_text = "driver: dlt645\nextends: test/base\nmodel: M1\npoints:\n  current: {di: '02 02 01 00'}\n"
    write(tmp_path, "test/m1.yaml", variant_text)
    variant = Dlt645Profiles.load(tmp_path, strict=True).get("test/m1")
    assert set(variant.points) == {"voltage", "current"} and variant.extends == "test/base"
