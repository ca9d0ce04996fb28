"""What the edge node has declared: devices, their metrics, aliases and last values.

A metric gets an alias once, for the life of the process (unique across the edge node, never reused),
so data encoded before a rebirth still means the same metric after it. A record for a device or a
metric no birth declared yet, or a value that no longer fits its datatype, makes the catalog ask for
a new birth of that device (or of the node) before the data goes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.uplink.sparkplug import datatypes
from agent.uplink.sparkplug.proto import pb

BDSEQ = "bdSeq"
REBIRTH = "Node Control/Rebirth"
EVENT_METRIC = "edgepost/event"  # JSON text of each event record: {"seq", "ev", "pri", "data"}
DEAD_STATES = frozenset({"offline"})  # a device in one of these inventory states is dead (DDEATH)


@dataclass(frozen=True, slots=True)
class PointDecl:
    """A metric a driver declares for a device (from ``drivers.base.PointSpec``)."""

    name: str
    type: str
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    writable: bool = False


@dataclass(frozen=True, slots=True)
class DeviceDecl:
    name: str
    state: str
    points: tuple[PointDecl, ...] = ()

    @property
    def alive(self) -> bool:
        return self.state not in DEAD_STATES


@dataclass(slots=True)
class MetricDef:
    name: str
    alias: int
    datatype: int
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    writable: bool = False
    value: Any = None  # the last value sent (a birth carries it as the current value)
    ts_ms: int | None = None
    quality: int | None = None


@dataclass(slots=True)
class DeviceDef:
    name: str
    metrics: dict[str, MetricDef] = field(default_factory=dict)
    alive: bool = True


class Catalog:
    def __init__(self) -> None:
        self._next_alias = 1
        self.node = DeviceDef("")
        self.devices: dict[str, DeviceDef] = {}
        self._add(self.node, EVENT_METRIC, pb.String)

    def _add(self, device: DeviceDef, name: str, datatype: int, decl: PointDecl | None = None) -> MetricDef:
        metric = MetricDef(name, self._next_alias, datatype)
        if decl is not None:
            metric.unit, metric.low, metric.high, metric.writable = decl.unit, decl.low, decl.high, decl.writable
        self._next_alias += 1
        device.metrics[name] = metric
        return metric

    def _device(self, name: str) -> tuple[DeviceDef, bool]:
        device = self.devices.get(name)
        if device is not None:
            return device, False
        device = DeviceDef(name)
        self._add(device, EVENT_METRIC, pb.String)
        self.devices[name] = device
        return device, True

    def declare(self, decls: Iterable[DeviceDecl]) -> set[str]:
        """Take the drivers' inventory; the devices whose metric set or datatypes changed."""
        changed: set[str] = set()
        for decl in decls:
            device, new = self._device(decl.name)
            if new:
                changed.add(decl.name)
            for point in decl.points:
                datatype = datatypes.from_neutral(point.type)
                metric = device.metrics.get(point.name)
                if metric is None:
                    self._add(device, point.name, datatype, point)
                    changed.add(decl.name)
                elif metric.datatype != datatype and datatypes.fits(datatype, metric.value):
                    metric.datatype = datatype
                    changed.add(decl.name)
        return changed

    def metric_for(self, device_name: str | None, name: str, value: Any) -> tuple[MetricDef, bool]:
        """The metric a value goes out as; True when its device (None: the node) needs a new birth first."""
        if device_name is None:
            device, rebirth = self.node, False
        else:
            device, rebirth = self._device(device_name)
        metric = device.metrics.get(name)
        if metric is None:
            return self._add(device, name, datatypes.infer(value)), True
        if not datatypes.fits(metric.datatype, value):
            metric.datatype = datatypes.widen(metric.datatype, value)
            return metric, True
        return metric, rebirth

    def writable(self, device_name: str, name: str | None, alias: int | None) -> MetricDef | None:
        """The device's metric a command names (by alias, else by name), if any."""
        device = self.devices.get(device_name)
        if device is None:
            return None
        for metric in device.metrics.values():
            if (alias is not None and metric.alias == alias) or (alias is None and metric.name == name):
                return metric
        return None
