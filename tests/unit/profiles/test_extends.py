"""``extends:`` merging, and lookup by id or by vendor/model + firmware."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ProfileError
from drivers.modbus.profile import DataType
from drivers.modbus.profiles import ProfileRegistry
from tests.unit.profiles.profile_tree import relative, write

BASE = """\
vendor: Acme
model: Tilt 1
description: base firmware
source: https://example.invalid/base
firmware: {max: "1"}
serial: {baudrate: 9600}
points:
  roll: {table: holding, address: 0x3D, type: int16, scale: 0.0054931640625, unit: deg, period: 2}
  pitch: {table: holding, address: 0x3E, type: int16, scale: 0.0054931640625, unit: deg}
  mag_x: {table: holding, address: 0x3A, type: int16}
  relay: {table: coil, address: 0, access: rw}
alarms:
  tilt: {point: roll, above: 10, absolute: true, hysteresis: 1}
  mag: {point: mag_x, above: 1000}
"""

VARIANT = """\
extends: acme/tilt
firmware: {min: "2.0"}
serial: {baudrate: 115200}
remove_points: [mag_x]
remove_alarms: [mag]
points:
  roll: {scale: 0.01}
  temperature: {table: holding, address: 0x40, type: int16, scale: 0.01, unit: degC}
alarms:
  tilt: {above: 12}
"""


@pytest.fixture
def registry(root: Path) -> ProfileRegistry:
    write(root, "acme/tilt", BASE)
    write(root, "acme/tilt-v2", VARIANT)
    loaded = ProfileRegistry.load(root, strict=True)
    return loaded


def test_variant_overrides_only_what_changed(registry: ProfileRegistry) -> None:
    base = registry.get("acme/tilt")
    variant = registry.get("acme/tilt-v2")
    assert variant.id == "acme/tilt-v2" and variant.extends == "acme/tilt"
    assert variant.description == "base firmware"  # inherited
    assert variant.serial.baudrate == 115200  # top-level key replaced
    roll = variant.points["roll"]
    assert roll.scale == 0.01 and roll.unit == "deg" and roll.period == 2  # field-level merge
    assert roll.address == base.points["roll"].address
    assert "mag_x" not in variant.points and "mag" not in variant.alarms
    assert variant.points["temperature"].unit == "degC"
    assert variant.alarms["tilt"].above == 12 and variant.alarms["tilt"].absolute is True
    assert variant.points["relay"].type is DataType.BOOL  # coil defaults to bool
    assert base.points["roll"].scale == 0.0054931640625  # the base is untouched


def test_firmware_range_is_the_variants_own(registry: ProfileRegistry) -> None:
    assert registry.get("acme/tilt-v2").firmware.min == "2.0"
    assert registry.get("acme/tilt-v2").firmware.max is None
    assert registry.get("acme/tilt").firmware.max == "1"


def test_lookup_by_vendor_model_and_firmware(registry: ProfileRegistry) -> None:
    assert registry.get("acme/tilt-1", firmware="1.7.3").id == "acme/tilt"
    assert registry.get("acme/tilt-1", firmware="v2.01").id == "acme/tilt-v2"
    assert registry.get("Acme/Tilt 1", firmware="3").id == "acme/tilt-v2"
    # an id wins when it covers the firmware, else the matching variant of the same model
    assert registry.get("acme/tilt", firmware="1.0").id == "acme/tilt"
    assert registry.get("acme/tilt-v2").id == "acme/tilt-v2"


def test_ambiguous_match_names_the_candidates(registry: ProfileRegistry) -> None:
    with pytest.raises(ProfileError) as raised:
        registry.get("acme/tilt-1")
    assert str(raised.value) == (
        "'acme/tilt-1' is ambiguous: acme/tilt (firmware <= 1), acme/tilt-v2 (firmware >= 2.0); "
        "give the firmware version or a profile id"
    )


def test_unknown_names_close_matches(registry: ProfileRegistry) -> None:
    with pytest.raises(ProfileError) as raised:
        registry.get("acme/tlit")
    assert str(raised.value) == (
        f"unknown profile 'acme/tlit' (did you mean 'acme/tilt', 'acme/tilt-1'?); searched {registry.root}"
    )
    with pytest.raises(ProfileError) as raised:
        registry.get("zzz/qqq")
    assert str(raised.value) == f"unknown profile 'zzz/qqq'; searched {registry.root}"  # nothing is close
    with pytest.raises(ProfileError, match=r"no profile of 'acme/tilt-1' covers firmware 1\.5"):
        ProfileRegistry(registry.root, {"acme/tilt-v2": registry.get("acme/tilt-v2")}, {}).get("acme/tilt-1", "1.5")
    with pytest.raises(ProfileError, match="expected a dotted version"):
        registry.get("acme/tilt-1", firmware="beta")


def test_inherited_problem_points_at_the_base_file(root: Path) -> None:
    write(root, "acme/tilt", BASE)
    write(
        root,
        "acme/tilt-v2",
        """\
        extends: acme/tilt
        firmware: {min: "2"}
        points:
          extra: {table: holding, address: 0x3E, type: int16}
        """,
    )
    registry = ProfileRegistry.load(root)
    assert registry.ids() == ["acme/tilt"]
    # the overlap is reported on the later point; 'pitch' (0x3E) is in the base file, 'extra' in the variant
    assert relative(registry.problems["acme/tilt-v2"], root) == [
        "firmware_profiles/acme/tilt.yaml:9:27 points.pitch.address: holding 62 overlaps points.extra (holding 62)"
    ]


def test_inherited_field_error_names_the_file_that_holds_it(root: Path) -> None:
    write(root, "acme/tilt", BASE.replace("period: 2}", "period: 2, access: rw, max: 500}"))
    write(root, "acme/tilt-v2", VARIANT)
    registry = ProfileRegistry.load(root)
    # 500 fits neither scale; the variant's copy of 'max' still lives in the base file
    assert relative(registry.problems["acme/tilt"], root) == [
        "firmware_profiles/acme/tilt.yaml:8:112 points.roll.max: 500 is outside what int16 with scale 0.00549316 "
        "and offset 0 can hold (-180..179.995)"
    ]
    assert relative(registry.problems["acme/tilt-v2"], root) == [
        "firmware_profiles/acme/tilt.yaml:8:112 points.roll.max: 500 is outside what int16 with scale 0.01 "
        "and offset 0 can hold (-327.68..327.67)"
    ]


def test_variant_problems(root: Path) -> None:
    write(root, "acme/tilt", BASE)
    write(
        root,
        "acme/tilt-v2",
        """\
        extends: acme/tilt
        remove_points: [mag_y]
        """,
    )
    assert relative(ProfileRegistry.load(root).problems["acme/tilt-v2"], root) == [
        "firmware_profiles/acme/tilt-v2.yaml:1:1 extends: a variant of the same vendor/model needs its own "
        "'firmware:' range",
        "firmware_profiles/acme/tilt-v2.yaml:2:17 remove_points[0]: no point 'mag_y' to remove",
    ]
