"""Resolving every device of a driver section against its profiles, for ``open`` and ``check_config``.

A driver's resolver raises ``ConfigError`` whose lines are ``field: message`` (``points.voltage: ...``).
``open`` wants them all at once, prefixed with where the device stands (``meters.devices[2].points``);
``edgepost config check`` wants them as field paths under ``devices``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from agent.errors import ConfigError


class NamedDevice(Protocol):
    @property
    def name(self) -> str: ...


D = TypeVar("D", bound=NamedDevice)
T = TypeVar("T")

ConfigProblem = tuple[tuple[str | int, ...], str]


def resolve_each(section: str, devices: Sequence[D], resolve: Callable[[D], T]) -> dict[str, T]:
    """Every device's resolution by name; one ``ConfigError`` with every device's problems otherwise."""
    problems: list[str] = []
    resolved: dict[str, T] = {}
    for index, device in enumerate(devices):
        try:
            resolved[device.name] = resolve(device)
        except ConfigError as exc:
            problems.extend(f"{section}.devices[{index}].{p}" for p in exc.problems)
    if problems:
        raise ConfigError(problems)
    return resolved


def device_problems(devices: Sequence[D], resolve: Callable[[D], object]) -> list[ConfigProblem]:
    """What ``resolve`` finds wrong with each device, as (``devices``, index, *field path) and message."""
    problems: list[ConfigProblem] = []
    for index, device in enumerate(devices):
        try:
            resolve(device)
        except ConfigError as exc:
            for problem in exc.problems:
                field, _, message = problem.partition(": ")
                problems.append((("devices", index, *field.split(".")), message))
    return problems
