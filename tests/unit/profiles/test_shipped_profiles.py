"""Every shipped profile loads strictly, and known registers match the device notes in shared/devices."""

from __future__ import annotations

import math

import pytest

from drivers.modbus.codec import decode_point, encode_point
from drivers.modbus.profile import DataType, Endian, Profile, Table
from drivers.modbus.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry


@pytest.fixture(scope="module")
def shipped() -> ProfileRegistry:
    return ProfileRegistry.load(DEFAULT_PROFILE_DIR, strict=True)


def test_all_load_strictly_and_cover_the_street_pole_set(shipped: ProfileRegistry) -> None:
    models = {(p.vendor, p.model) for p in shipped.all()}
    assert len(models) >= 6
    for required in (
        "eastron/sdm120",
        "renke/rs-fsxcs-n01",
        "witmotion/wt901c-485",
        "witmotion/wt901c-485-v2",
        "keller/series30",
        "yosemitech/y532",
        "waveshare/analog-output-8ch-b",
        "waveshare/relay-8ch",
        "oem/tuf-2000m",
    ):
        assert required in shipped.ids()


def test_every_profile_names_sources_and_doubts(shipped: ProfileRegistry) -> None:
    for profile in shipped.all():
        sources = [profile.source] if isinstance(profile.source, str) else profile.source
        assert sources and all(s.strip() for s in sources), profile.id
        assert profile.doubts, profile.id  # every map has at least one stated doubt
        assert profile.points, profile.id
        for point in profile.points.values():
            assert point.access.readable or point.period is None, profile.id


def point_of(profile: Profile, name: str) -> tuple[Table, int, DataType]:
    point = profile.points[name]
    return point.table, point.address, point.type


def test_eastron_sdm120(shipped: ProfileRegistry) -> None:
    sdm = shipped.get("eastron/sdm120")
    assert sdm.serial.baudrate == 2400 and not sdm.verified
    assert point_of(sdm, "voltage") == (Table.INPUT, 0x0000, DataType.FLOAT32)
    assert point_of(sdm, "import_energy") == (Table.INPUT, 0x0048, DataType.FLOAT32)
    assert point_of(sdm, "total_energy") == (Table.INPUT, 0x0156, DataType.FLOAT32)
    assert sdm.points["import_energy"].unit == "kWh"
    # the note's example response 43 66 33 34 is 230.2 V
    volts = decode_point(sdm.points["voltage"], [0x4366, 0x3334])
    assert isinstance(volts, float) and math.isclose(volts, 230.2, rel_tol=1e-6)


def test_eastron_sdm630(shipped: ProfileRegistry) -> None:
    sdm = shipped.get("eastron/sdm630-v2")
    assert sdm.limits.max_registers == 80 and sdm.serial.baudrate == 9600
    assert point_of(sdm, "l3_total_energy") == (Table.INPUT, 0x016A, DataType.FLOAT32)
    assert point_of(sdm, "neutral_current") == (Table.INPUT, 0x00E0, DataType.FLOAT32)


def test_renke_station(shipped: ProfileRegistry) -> None:
    renke = shipped.get("renke/rs-fsxcs-n01")
    assert renke.serial.baudrate == 4800
    assert point_of(renke, "pm2_5") == (Table.HOLDING, 0x01FB, DataType.UINT16)
    assert point_of(renke, "temperature") == (Table.HOLDING, 0x01F9, DataType.INT16)
    # the worked example: 0xFF9B -> -10.1 degC, 0x0292 -> 65.8 %RH
    assert decode_point(renke.points["temperature"], [0xFF9B]) == -10.1
    assert decode_point(renke.points["humidity"], [0x0292]) == 65.8
    assert decode_point(renke.points["wind_sector"], [0]) == "N"
    louver = shipped.get("renke/rs-fsxcs-n01-louver")
    assert louver.extends == "renke/rs-fsxcs-n01"
    assert [louver.points[n].address for n in ("humidity", "temperature", "noise", "pm2_5", "pm10")] == [
        500,
        501,
        502,
        503,
        504,
    ]
    assert louver.points["temperature"].scale == 0.1  # inherited field by field


def test_witmotion_tilt_and_its_variant(shipped: ProfileRegistry) -> None:
    base = shipped.get("witmotion/wt901c-485")
    assert base.verified and base.serial.baudrate == 9600
    assert point_of(base, "roll") == (Table.HOLDING, 0x3D, DataType.INT16)
    assert decode_point(base.points["roll"], [0x4000]) == 90.0  # raw / 32768 * 180
    tilt = base.alarms["cover_tilt_roll"]
    assert (tilt.point, tilt.above, tilt.absolute) == ("roll", 10, True) and tilt.hysteresis > 0
    variant = shipped.get("witmotion/wt901c-485", firmware="2.0")
    assert variant.id == "witmotion/wt901c-485-v2" and variant.extends == base.id
    assert "temperature" in variant.points and "mag_x" not in variant.points
    assert any("ASSUMED" in d for d in variant.doubts)
    assert shipped.get("witmotion/wt901c-485", firmware="1.4").id == base.id


def test_keller_level(shipped: ProfileRegistry) -> None:
    keller = shipped.get("keller/series30")
    assert keller.verified
    assert point_of(keller, "p1_pressure") == (Table.HOLDING, 0x0100, DataType.FLOAT32)
    assert keller.points["p1_pressure"].unit == "bar"
    assert keller.points["p1_pressure"].word_order is Endian.BIG


def test_yosemitech_ph_little_endian_floats(shipped: ProfileRegistry) -> None:
    y532 = shipped.get("yosemitech/y532")
    assert y532.limits.max_hole == 0
    assert point_of(y532, "ph") == (Table.HOLDING, 0x2800, DataType.FLOAT32)
    # manual examples: pH 7.6 = bytes 33 33 F3 40; 15.8 degC = CD CC 7C 41 (on the wire)
    ph = decode_point(y532.points["ph"], [0x3333, 0xF340])
    temp = decode_point(y532.points["temperature"], [0xCDCC, 0x7C41])
    assert isinstance(ph, float) and math.isclose(ph, 7.6, rel_tol=1e-6)
    assert isinstance(temp, float) and math.isclose(temp, 15.8, rel_tol=1e-6)
    # the new slave id goes in the high byte
    assert encode_point(y532.points["modbus_address"], 2) == [0x0200]


def test_street_light_dimming_and_relays(shipped: ProfileRegistry) -> None:
    dimmer = shipped.get("waveshare/analog-output-8ch-b")
    dim = dimmer.points["dim_1"]
    assert (dim.table, dim.address, dim.access.writable, dim.min, dim.max, dim.unit) == (
        Table.HOLDING,
        0,
        True,
        0,
        10,
        "V",
    )
    assert encode_point(dim, 1.0) == [1000]  # the wiki's "01 06 00 00 03 E8" = 1 V on channel 1
    assert dimmer.points["dim_8"].address == 7
    relays = shipped.get("waveshare/relay-8ch")
    relay = relays.points["relay_1"]
    assert (relay.table, relay.address, relay.type, relay.access.writable) == (Table.COIL, 0, DataType.BOOL, True)
    assert encode_point(relay, True) == [1]


def test_water_meter_is_marked_unverified(shipped: ProfileRegistry) -> None:
    meter = shipped.get("oem/tuf-2000m")
    assert not meter.verified
    assert any("No register map of a water meter" in d for d in meter.doubts)
    assert point_of(meter, "flow_rate") == (Table.HOLDING, 0, DataType.FLOAT32)
    assert point_of(meter, "positive_total") == (Table.HOLDING, 8, DataType.INT32)
    # worked example from the source: wire 80 6B 42 12 -> about 36.6 degC (low word first)
    temp = decode_point(meter.points["inlet_temperature"], [0x806B, 0x4212])
    assert isinstance(temp, float) and math.isclose(temp, 36.625, abs_tol=0.001)


def test_level_by_distance_and_dali_gateway(shipped: ProfileRegistry) -> None:
    urm = shipped.get("dfrobot/urm12")
    assert (urm.serial.baudrate, urm.points["distance"].address, urm.points["distance"].unit) == (19200, 5, "cm")
    assert urm.identification.registers[0].expect == 1  # PID 1 = URM12 (URM14 is 2)
    dali = shipped.get("ecodim/dali-gw2")
    level = dali.points["broadcast_level"]
    assert (level.address, level.access.writable, level.access.readable, level.max) == (1000, True, False, 254)
    assert encode_point(dali.points["relay_1"], "on") == [1]


def test_every_profile_has_serial_limits_and_identification(shipped: ProfileRegistry) -> None:
    for profile in shipped.all():
        ident = profile.identification
        assert ident.registers or ident.device_id is not None, profile.id
        assert profile.serial.baudrate in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200), profile.id
        assert profile.limits.max_registers <= 125, profile.id
