"""Load a scenario file: YAML with positions, pydantic validation, then references (devices, buses,
profiles, points) checked against the pole and the firmware profiles. Every problem is one
``file:line:col path: message`` line, as for the agent's config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from agent.errors import ConfigError, ProfileError
from agent.yamlsource import YamlDocument, format_path, load_yaml_file, validation_problems
from drivers.modbus.profiles import ProfileRegistry
from rig.scenario.model import Scenario
from rig.scenario.pole import ExpectedValue, PoleSpec

_EXPECTED = TypeAdapter(dict[str, dict[str, ExpectedValue]])


def load_scenario(path: Path) -> Scenario:
    """The validated scenario; ``ConfigError`` lists every problem with its file and line."""
    doc = _read(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([f"{doc.where(())} <document>: expected a mapping with name, pole, timeline, expect"])
    try:
        scenario = Scenario.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc)) from None
    scenario = _resolve_paths(scenario, path.parent)
    problems = reference_problems(doc, scenario)
    if problems:
        raise ConfigError(problems)
    if scenario.pole.expected_file is not None:
        scenario = _with_expected_file(scenario, scenario.pole.expected_file)
    return scenario.model_copy(update={"source": path})


def _read(path: Path) -> YamlDocument:
    try:
        return load_yaml_file(path)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None


def _resolve_paths(scenario: Scenario, base: Path) -> Scenario:
    pole = scenario.pole
    cameras = [
        c.model_copy(update={"file": base / c.file}) if c.file is not None and not c.file.is_absolute() else c
        for c in pole.cameras
    ]
    expected = pole.expected_file
    if expected is not None and not expected.is_absolute():
        expected = base / expected
    return scenario.model_copy(update={"pole": pole.model_copy(update={"cameras": cameras, "expected_file": expected})})


def reference_problems(doc: YamlDocument, scenario: Scenario, registry: ProfileRegistry | None = None) -> list[str]:
    problems: list[str] = []

    def problem(path: tuple[str | int, ...], message: str) -> None:
        problems.append(f"{doc.where(path)} {format_path(path)}: {message}")

    pole = scenario.pole
    registry = registry or ProfileRegistry.load_cached()
    for b, bus in enumerate(pole.buses):
        for d, device in enumerate(bus.devices):
            where = ("pole", "buses", b, "devices", d)
            try:
                profile = registry.get(device.profile, device.firmware)
            except ProfileError as exc:
                problem((*where, "profile"), "; ".join(exc.problems))
                continue
            for key, names in (("points", list(device.points)), ("read", device.polled)):
                unknown = sorted(set(names) - set(profile.points))
                if unknown:
                    problem((*where, key), f"no such points {unknown} in {profile.id}; known: {sorted(profile.points)}")
            if not device.polled:
                problem(where, "the agent polls nothing: give points (simulated) or read (real hardware)")
    for i, fault in enumerate(scenario.timeline):
        at = ("timeline", i)
        device_name = getattr(fault, "device", None)
        if device_name is not None and pole.device(device_name) is None:
            problem((*at, "device"), f"no device {device_name!r} on the pole")
        bus_name = getattr(fault, "bus", None)
        if bus_name is not None and pole.bus(bus_name) is None:
            problem((*at, "bus"), f"no bus {bus_name!r} on the pole")
        camera_name = getattr(fault, "camera", None)
        if camera_name is not None and camera_name not in {c.name for c in pole.cameras}:
            problem((*at, "camera"), f"no camera {camera_name!r} on the pole")
        swap = getattr(fault, "profile", None)
        if swap is not None:
            try:
                registry.get(swap, getattr(fault, "firmware", None))
            except ProfileError as exc:
                problem((*at, "profile"), "; ".join(exc.problems))
    for name in scenario.expect.device_states:
        if pole.device(name) is None and name not in {c.name for c in pole.cameras}:
            problem(("expect", "device_states", name), f"no device {name!r} on the pole")
    return problems


def _with_expected_file(scenario: Scenario, path: Path) -> Scenario:
    doc = _read(path)
    try:
        table = _EXPECTED.validate_python(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc)) from None
    pole: PoleSpec = scenario.pole
    problems = [
        f"{doc.where((name,))} {name}: no device {name!r} on the pole" for name in table if pole.device(name) is None
    ]
    if problems:
        raise ConfigError(problems)
    buses = []
    for bus in pole.buses:
        devices = []
        for device in bus.devices:
            merged: dict[str, Any] = {**table.get(device.name, {}), **device.expected}
            devices.append(device.model_copy(update={"expected": merged}))
        buses.append(bus.model_copy(update={"devices": devices}))
    return scenario.model_copy(update={"pole": pole.model_copy(update={"buses": buses})})
