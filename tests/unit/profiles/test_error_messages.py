"""Errors a technician writing a profile meets: did-you-mean for keys and profiles, one pass by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ProfileError
from drivers.modbus.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry
from tests.unit.profiles.profile_tree import relative, write

SHIPPED = ProfileRegistry.load(DEFAULT_PROFILE_DIR)


def unknown(ref: str) -> str:
    with pytest.raises(ProfileError) as raised:
        SHIPPED.get(ref)
    return str(raised.value)


def test_did_you_mean_compares_vendor_and_model_apart() -> None:
    assert unknown("schneider/iem3000") == f"unknown profile 'schneider/iem3000'; searched {DEFAULT_PROFILE_DIR}"
    assert "(did you mean 'eastron/sdm120'?)" in unknown("eastron/sdm12")
    assert "(did you mean 'eastron/sdm120'?)" in unknown("eastorn/sdm120")  # vendor misspelt
    assert "(did you mean 'eastron/sdm120'?)" in unknown("acme/sdm120")  # the model under another name
    assert "(did you mean 'witmotion/wt901c-485'" in unknown("witmotion/wt901c485")
    assert "(eastron has eastron/sdm120, eastron/sdm630-v2)" in unknown("eastron/dds238")
    from drivers.modbus.profile_suggest import close_profiles

    assert close_profiles("keller", SHIPPED.ids()) == []
    assert close_profiles("sdm120", SHIPPED.ids()) == ["eastron/sdm120"]


def test_unknown_keys_get_a_did_you_mean(root: Path) -> None:
    write(
        root,
        "acme/m",
        """\
        vendor: Acme
        modle: M
        source: x
        points:
          v: {table: input, adress: 0, unti: V, colour: red}
        alarms:
          hi: {point: v, abov: 3}
        """,
    )
    assert relative(ProfileRegistry.load(root).errors, root) == [
        "firmware_profiles/acme/m.yaml:1:1 model: required key is missing",  # a missing key: the document
        "firmware_profiles/acme/m.yaml:2:1 modle: unknown key (did you mean 'model'?)",
        "firmware_profiles/acme/m.yaml:5:3 points.v.address: required key is missing",
        "firmware_profiles/acme/m.yaml:5:21 points.v.adress: unknown key (did you mean 'address'?)",
        "firmware_profiles/acme/m.yaml:5:32 points.v.unti: unknown key (did you mean 'unit'?)",
        "firmware_profiles/acme/m.yaml:5:41 points.v.colour: unknown key",
        "firmware_profiles/acme/m.yaml:7:18 alarms.hi.abov: unknown key (did you mean 'above'?)",
    ]


def test_schema_and_map_problems_come_together_by_line(root: Path) -> None:
    write(
        root,
        "acme/m",
        """\
        vendor: Acme
        model: M
        source: x
        points:
          a: {table: input, address: 0, type: float32}
          b: {table: input, address: 1, type: float32, scale: ten}
          c: {table: input, address: 4, type: int16, access: rw}
        alarms:
          lost: {point: b, below: 1}
          nope: {point: d, above: 1}
        """,
    )
    assert relative(ProfileRegistry.load(root).errors, root) == [
        "firmware_profiles/acme/m.yaml:6:21 points.b.address: input 1..2 overlaps points.a (input 0..1)",
        "firmware_profiles/acme/m.yaml:6:48 points.b.scale: Input should be a valid number, "
        "unable to parse string as a number, got 'ten'",
        "firmware_profiles/acme/m.yaml:7:46 points.c.access: the input table is read-only, access must be 'r', "
        "got 'rw'",
        "firmware_profiles/acme/m.yaml:10:10 alarms.nope.point: unknown point 'd'",
    ]
