"""What a device's config resolves to against its firmware profile: the poller's spec (points,
periods, limits) and the pipeline's rules (deadbands, alarms with the device's overrides).

Used when the driver opens and by ``check_config`` (``edgepost config check``); a bad profile
reference, point or alarm name is a ``ConfigError`` whose lines start with the field.
"""

from __future__ import annotations

from typing import Any

from agent.errors import ConfigError, ProfileError
from agent.rules import AlarmRule, PointRule
from drivers.modbus.config import Device
from drivers.modbus.device_types import DeviceSpec
from drivers.modbus.profile import Profile
from drivers.modbus.profiles import ProfileRegistry


def resolve_device(device: Device, registry: ProfileRegistry, default_period_s: float) -> tuple[DeviceSpec, Profile]:
    """Config + profile -> what the poller needs. Problems are ``field: message`` lines."""
    try:
        profile = registry.get(device.profile, device.firmware)
    except ProfileError as exc:
        raise ConfigError([f"profile: {p}" for p in exc.problems]) from None
    selection = device.selected_points()
    names = [n for n, p in profile.points.items() if p.access.readable] if selection is None else list(selection)
    problems = [
        f"points: no readable point {n!r} in profile {profile.id}"
        for n in names
        if n not in profile.points or not profile.points[n].access.readable
    ]
    problems += [
        f"alarms: no alarm {a!r} in profile {profile.id} (alarms: {', '.join(profile.alarms) or 'none'})"
        for a in device.alarms
        if a not in profile.alarms
    ]
    if problems:
        raise ConfigError(problems)
    periods: dict[str, float] = {}
    for n in names:
        override = selection.get(n) if selection else None
        point = profile.points[n]
        # the device's period_s is a default for points without their own (a serial number polled
        # hourly stays hourly): per-point override > profile point > device > driver default
        periods[n] = (override and override.period) or point.period or device.period_s or default_period_s
    known = [(str(p.table), p.address, p.end) for p in profile.points.values()]
    spec = DeviceSpec(
        name=device.name,
        unit=device.unit_id,
        points={n: profile.points[n] for n in names},
        periods=periods,
        limits=profile.limits,
        known_ranges=known,
    )
    return spec, profile


def point_rules_for(device: Device, profile: Profile, points: list[str]) -> list[PointRule]:
    """Deadbands and alarms of the polled points: the profile's, with the device's overrides."""
    selection = device.selected_points() or {}
    rules: list[PointRule] = []
    for name in points:
        override = selection.get(name)
        deadband = override.deadband if override and override.deadband is not None else profile.points[name].deadband
        alarms: list[AlarmRule] = []
        for alarm_name, alarm in profile.alarms.items():
            if alarm.point != name:
                continue
            change = device.alarms.get(alarm_name)
            if change is not None and not change.enabled:
                continue
            fields: dict[str, Any] = {}
            if change is not None:
                fields = {k: v for k, v in change.model_dump(exclude={"enabled"}).items() if v is not None}
            alarms.append(
                AlarmRule(
                    name=alarm_name,
                    above=fields.get("above", alarm.above),
                    below=fields.get("below", alarm.below),
                    hysteresis=fields.get("hysteresis", alarm.hysteresis),
                    absolute=alarm.absolute,
                    priority=str(alarm.priority),
                    message=alarm.message,
                )
            )
        rules.append(PointRule(device=device.name, point=name, deadband=deadband, alarms=tuple(alarms)))
    return rules
