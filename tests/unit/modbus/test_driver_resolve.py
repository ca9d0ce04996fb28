"""Config + profile resolution and point rules of the Modbus driver (no I/O)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.rules import AlarmRule
from drivers.base import DriverContext
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.profile import Access, Alarm, Point, Profile, Table
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.resolve import point_rules_for, resolve_device

PROFILE = Profile(
    id="acme/tilt",
    vendor="acme",
    model="tilt",
    source="test",
    points={
        "roll": Point(table=Table.HOLDING, address=0, deadband=0.5, period=2.0),
        "pitch": Point(table=Table.HOLDING, address=1, deadband=0.5),
        "address": Point(table=Table.HOLDING, address=9, access=Access.W),
    },
    alarms={
        "roll_tilt": Alarm(point="roll", above=10, hysteresis=2, absolute=True),
        "pitch_tilt": Alarm(point="pitch", above=10),
    },
)
REGISTRY = ProfileRegistry(Path("."), {PROFILE.id: PROFILE}, [])


def driver_config(**device: object) -> ModbusDriverConfig:
    base = {"name": "cover", "bus": "rs1", "unit_id": 3, "profile": "acme/tilt"}
    return ModbusDriverConfig.model_validate(
        {
            "driver": "modbus",
            "name": "mb",
            "default_period_s": 30,
            "buses": [{"transport": "serial", "name": "rs1", "port": "/dev/null"}],
            "devices": [{**base, **device}],
        }
    )


def test_default_selection_is_every_readable_point_with_period_precedence() -> None:
    cfg = driver_config()
    spec, profile = resolve_device(cfg.devices[0], REGISTRY, cfg.default_period_s)
    assert profile is PROFILE and spec.unit == 3
    assert set(spec.points) == {"roll", "pitch"}  # 'address' is write-only
    assert spec.periods == {"roll": 2.0, "pitch": 30.0}
    cfg = driver_config(period_s=5, points={"roll": {"period": 1}, "pitch": {}})
    spec, _ = resolve_device(cfg.devices[0], REGISTRY, cfg.default_period_s)
    assert spec.periods == {"roll": 1.0, "pitch": 5.0}


def test_device_period_is_a_default_not_an_override() -> None:
    """A meter's hourly registers stay hourly when the device says period_s: 5."""
    profile = PROFILE.model_copy(
        update={"points": {**PROFILE.points, "serial": Point(table=Table.HOLDING, address=20, period=3600.0)}}
    )
    registry = ProfileRegistry(Path("."), {profile.id: profile}, {})
    cfg = driver_config(period_s=5, points={"roll": {}, "pitch": {}, "serial": {}})
    spec, _ = resolve_device(cfg.devices[0], registry, cfg.default_period_s)
    # the profile point's own period > the device's period_s > the driver default
    assert spec.periods == {"roll": 2.0, "pitch": 5.0, "serial": 3600.0}
    cfg = driver_config(period_s=5, points={"serial": {"period": 60}})  # the device's per-point override wins
    assert resolve_device(cfg.devices[0], registry, cfg.default_period_s)[0].periods == {"serial": 60.0}
    cfg = driver_config(points=["pitch"])
    assert resolve_device(cfg.devices[0], registry, cfg.default_period_s)[0].periods == {"pitch": 30.0}


def test_bad_references_are_config_errors() -> None:
    cfg = driver_config(points=["roll", "yaw", "address"], alarms={"door": {"enabled": False}})
    with pytest.raises(ConfigError) as info:
        resolve_device(cfg.devices[0], REGISTRY, 10)
    assert info.value.problems == [
        "points: no readable point 'yaw' in profile acme/tilt",
        "points: no readable point 'address' in profile acme/tilt",
        "alarms: no alarm 'door' in profile acme/tilt (alarms: roll_tilt, pitch_tilt)",
    ]
    with pytest.raises(ConfigError) as info:
        resolve_device(driver_config(profile="acme/tlit").devices[0], REGISTRY, 10)
    assert info.value.problems[0].startswith("profile: unknown profile 'acme/tlit'")


async def test_open_reports_the_device_path(tmp_path: Path) -> None:
    context = DriverContext("gw", tmp_path, tmp_path, logging.getLogger("t"))
    driver = ModbusDriver(driver_config(points=["yaw"]), context, registry=REGISTRY)
    with pytest.raises(ConfigError) as info:
        await driver.open()
    assert info.value.problems == ["mb.devices[0].points: no readable point 'yaw' in profile acme/tilt"]
    assert driver.buses == {}  # nothing was opened


def test_point_rules_apply_device_overrides() -> None:
    cfg = driver_config(
        points={"roll": {"deadband": 0.1}, "pitch": {}},
        alarms={"roll_tilt": {"above": 15}, "pitch_tilt": {"enabled": False}},
    )
    rules = {r.point: r for r in point_rules_for(cfg.devices[0], PROFILE, ["roll", "pitch"])}
    assert rules["roll"].deadband == 0.1 and rules["pitch"].deadband == 0.5
    assert rules["roll"].alarms == (
        AlarmRule(name="roll_tilt", above=15, below=None, hysteresis=2, absolute=True, priority="high"),
    )
    assert rules["pitch"].alarms == ()
    assert all(r.device == "cover" for r in rules.values())
