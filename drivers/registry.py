"""Driver discovery through entry points: built-in drivers register exactly like a third-party package.

- ``edgepost.drivers``: name -> the ``Driver`` subclass;
- ``edgepost.driver_configs``: name -> its pydantic config model, in a module that does not import the
  driver implementation, so validating a config never imports OpenCV or onnxruntime. A driver without
  one has its config model read from the driver class (``Driver.config_model``).

A driver whose optional dependencies are missing is loaded lazily: its entry point is only imported
when a config names it, so a sensor-only box never imports OpenCV or onnxruntime.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel

from agent.errors import DriverNotFound
from drivers.base import Driver

GROUP = "edgepost.drivers"
CONFIG_GROUP = "edgepost.driver_configs"


@cache
def _entry_points(group: str = GROUP) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def driver_names() -> list[str]:
    return sorted(set(_entry_points()) | set(_entry_points(CONFIG_GROUP)))


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
    """The pydantic config model of driver ``name``, without importing the driver itself when it registers
    its model under ``edgepost.driver_configs``."""
    entry = _entry_points(CONFIG_GROUP).get(name)
    if entry is None:
        return load_driver_class(name).config_model
    try:
        model = entry.load()
    except ImportError as exc:
        raise DriverNotFound(f"the config model of driver {name!r} cannot be loaded: {exc}") from None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise DriverNotFound(f"entry point {name!r} in {CONFIG_GROUP} does not name a pydantic model")
    return model
