"""The DL/T 645 driver's config: 12-digit addresses (quoted), references, the standard's line
defaults, and profile/point problems named by field path before the driver opens."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from drivers.dlt645.config import Dlt645DriverConfig
from drivers.dlt645.driver import Dlt645Driver
from drivers.registry import load_driver_class


def config(devices: list[dict[str, Any]]) -> Dlt645DriverConfig:
    return Dlt645DriverConfig.model_validate(
        {"driver": "dlt645", "name": "meters", "buses": [{"name": "rs1", "port": "/dev/ttyUSB0"}], "devices": devices}
    )


def meter(**fields: Any) -> dict[str, Any]:
    return {"name": "m1", "bus": "rs1", "address": "000012345678", "profile": "chint/ddsu666-dlt645", **fields}


def test_the_standards_line_and_a_nameplate_address() -> None:
    cfg = config([meter()])
    assert (cfg.buses[0].baudrate, cfg.buses[0].parity, cfg.buses[0].bits_per_char) == (2400, "E", 11)
    assert cfg.devices[0].address == "000012345678"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"address": 12345678}, "quote the address"),
        ({"address": "AAAAAAAAAAAA"}, "12 digits"),
        ({"address": "1234567890123"}, "expected 12 digits"),
        ({"bus": "rs9"}, "no bus named 'rs9'"),
    ],
)
def test_bad_meters_are_refused_with_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config([meter(**fields)])


def test_two_meters_with_one_address_on_a_bus_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"devices\[1\]\.address: 000012345678 on bus 'rs1' is already 'm1'"):
        config([meter(), meter(name="m2")])


def test_unknown_profile_and_point_are_named_by_path() -> None:
    cfg = config([meter(profile="chint/nosuch"), meter(name="m2", address="000000000002", points=["volts"])])
    problems = Dlt645Driver.check_config(cfg)
    assert problems[0][0] == ("devices", 0, "profile") and "unknown DL/T 645 profile" in problems[0][1]
    assert problems[1] == (("devices", 1, "points", "volts"), "no readable point 'volts' in chint/ddsu666-dlt645")


def test_the_driver_plugs_in_through_its_entry_point() -> None:
    assert load_driver_class("dlt645") is Dlt645Driver
