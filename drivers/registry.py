"""Driver discovery through the ``edgepost.drivers`` entry-point group.

Built-in drivers register exactly like a third-party package would (see pyproject.toml). A driver
whose optional dependencies are missing is loaded lazily: its entry point is only imported when a
config names it, so a sensor-only box never imports OpenCV or onnxruntime.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from agent.errors import DriverNotFound
from drivers.base import Driver

GROUP = "edgepost.drivers"

# Where each built-in driver's config model lives, so validating a config does not import the
# driver implementation (and its heavy dependencies).
_CONFIG_MODULES: dict[str, str] = {
    "modbus": "drivers.modbus.config:ModbusDriverConfig",
    "camera": "drivers.camera.config:CameraDriverConfig",
}


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def driver_names() -> list[str]:
    return sorted(set(_entry_points()) | set(_CONFIG_MODULES))


def load_driver_class(name: str) -> type[Driver[Any]]:
    eps = _entry_points()
    if name not in eps:
        raise DriverNotFound(f"no driver named {name!r} (known: {', '.join(driver_names())})")
    try:
        cls = eps[name].load()
    except ImportError as exc:  # e.g. the camera extra (OpenCV, onnxruntime) is not installed on this box
        raise DriverNotFound(f"driver {name!r} cannot be loaded: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Driver)):
        raise DriverNotFound(f"entry point {name!r} does not name a Driver subclass")
    return cls


def load_config_model(name: str) -> type[Any]:
    """The pydantic config model of driver ``name`` without importing the driver itself if possible."""
    target = _CONFIG_MODULES.get(name)
    if target is not None:
        module_name, _, attr = target.partition(":")
        model: type[Any] = getattr(importlib.import_module(module_name), attr)
        return model
    return load_driver_class(name).config_model
