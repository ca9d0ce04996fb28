"""The driver plugin contract.

A driver turns one kind of field equipment (a Modbus bus, a camera) into typed ``Reading``/``Event``
records handed to a ``RecordSink``. It knows nothing about MQTT or SQLite. Drivers are found through
the ``edgepost.drivers`` entry-point group; each brings its own pydantic config model whose
``driver`` field is a ``Literal`` naming it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Generic, Protocol, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from agent.errors import EdgepostError, PermanentError
from agent.records import JsonValue, PointValue, Reading, Record
from agent.rules import PointRule


class DriverConfigBase(BaseModel):
    """Base of every driver's config model. Subclasses add ``driver: Literal["name"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str


class RecordSink(Protocol):
    """Where a driver hands its records (the pipeline). Awaiting it applies back-pressure."""

    async def put(self, record: Record) -> None: ...


@dataclass(frozen=True)
class DeviceInfo:
    """One device in the birth inventory."""

    name: str
    driver: str
    profile: str | None = None
    state: str = "unknown"
    attributes: dict[str, JsonValue] = field(default_factory=dict)


def _ignore() -> None:
    return None


@dataclass(frozen=True)
class PointSpec:
    """One point as an upstream namespace declares it (Sparkplug metric definitions in a DBIRTH).

    ``type`` is driver-neutral: bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
    float32, float64 or string (the type of the values the driver emits, after scaling and enum labels).
    """

    name: str
    type: str
    unit: str | None = None
    low: float | None = None  # engineering range, when the device model gives one
    high: float | None = None
    writable: bool = False
    description: str | None = None


@dataclass(frozen=True)
class DriverContext:
    """What the agent gives every driver."""

    gateway_id: str
    state_dir: Path
    config_dir: Path
    logger: logging.Logger
    # the config's top-level ``profile_dirs``: site firmware-profile dirs searched before the shipped
    # ones (None: the default, /etc/edgepost/profiles)
    profile_dirs: tuple[Path, ...] | None = None
    # call (on the event loop) when a device's inventory entry changed, e.g. its state: the agent publishes
    # the retained birth again, so it never shows a running device as stopped
    inventory_changed: Callable[[], None] = _ignore


class NotSupported(PermanentError):
    """The driver does not offer this operation (for example a write on a camera)."""


class PeriodRefused(PermanentError):
    """A poll period shorter than the device and its bus can keep; ``minimum_s`` is the shortest they can."""

    def __init__(self, message: str, minimum_s: float) -> None:
        self.minimum_s = minimum_s
        super().__init__(message)


ConfigT = TypeVar("ConfigT", bound=DriverConfigBase)


class Driver(ABC, Generic[ConfigT]):
    """A driver instance. Reusable but not reentrant as an async context manager."""

    config_model: ClassVar[type[DriverConfigBase]]

    def __init__(self, config: ConfigT, context: DriverContext) -> None:
        self.config = config
        self.context = context
        self._open = False

    @property
    def name(self) -> str:
        return self.config.name

    @classmethod
    def check_config(
        cls, config: DriverConfigBase, profile_dirs: Sequence[Path] | None = None
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems pydantic cannot see (a profile or model that does not exist), as (field path, message).

        Run by the config loader, so ``config validate``, start-up and SIGHUP refuse them with file:line.
        ``profile_dirs`` is the config's top-level key (see ``DriverContext.profile_dirs``).
        """
        return []

    @classmethod
    def configured_points(cls, config: DriverConfigBase) -> dict[str, frozenset[str]] | None:
        """The devices ``config`` declares, each with the points it will report, so the config loader can
        refuse a rule (``care:``) naming one that does not exist. None: known only once the driver runs."""
        return None

    @abstractmethod
    async def open(self) -> None:
        """Acquire ports/streams/models. Raise a typed error when that fails."""

    @abstractmethod
    async def run(self, sink: RecordSink) -> None:
        """Produce records into ``sink`` until cancelled."""

    @abstractmethod
    async def close(self) -> None:
        """Release everything ``open`` acquired. Must be safe to call twice."""

    def inventory(self) -> list[DeviceInfo]:
        """Devices this driver serves, for the birth message and ``edgepost status``."""
        return []

    def serial_ports(self) -> list[str]:
        """Local serial ports ``open`` takes, so the CLI refuses to open one another process (the daemon)
        holds: two masters on one line corrupt each other's frames."""
        return []

    def point_specs(self, device: str) -> list[PointSpec]:
        """The points ``device`` reports or accepts writes for, typed (empty: learned from the data)."""
        return []

    def point_rules(self) -> list[PointRule]:
        """Deadbands and alarm thresholds of this driver's points, applied by the pipeline."""
        return []

    def status(self) -> dict[str, JsonValue]:
        """Live state for ``edgepost status`` and metrics."""
        return {}

    async def read_point(self, device: str, point: str) -> Reading:
        raise NotSupported(f"{self.name}: read_point is not supported")

    async def write_point(self, device: str, point: str, value: PointValue, verify: bool = False) -> PointValue:
        """Write ``value``; returns the value the device was sent when the driver can say (``value``
        rounded to what the register holds), else None."""
        raise NotSupported(f"{self.name}: write_point is not supported")

    def set_period(self, device: str, point: str | None, period_s: float) -> float:
        """Poll ``point`` (every polled point when None) of ``device`` every ``period_s``; returns the
        period now in effect. Raises ``PeriodRefused`` below what the device and its bus can keep."""
        raise NotSupported(f"{self.name}: set_period is not supported")

    def retry_now(self) -> None:
        """Cut short any back-off before reconnecting: the operator just fixed something (``config
        reload`` that left this driver running). Nothing to do for a driver without such waits."""

    async def forget_learned(self, device: str) -> dict[str, JsonValue]:
        """Forget what the driver learned about ``device`` while running (and its saved copy in the
        state dir), so the device is probed afresh. Works on a driver that is not open: then only the
        saved copy is forgotten. Returns what was forgotten."""
        raise NotSupported(f"{self.name}: forget_learned is not supported")

    async def __aenter__(self) -> Self:
        if self._open:
            raise EdgepostError(f"driver {self.name} is already open (not reentrant)")
        await self.open()
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        await self.close()
