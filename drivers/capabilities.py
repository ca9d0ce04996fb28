"""What a driver may offer beyond ``Driver``: each capability is an ABC the driver class inherits.

The agent finds an operation by ``isinstance(driver, Capability)``, never by a method name, so a
third-party driver plugs in through its entry point alone:

- ``RawAccess``: the driver owns named buses and answers raw verbs on them, each with its own
  pydantic argument model (Modbus: ``read``/``write`` registers, ``identify`` a unit). The control
  socket's ``raw`` request lends the daemon's bus to the CLI for any protocol this way.
- ``Snapshots``: still pictures (cameras).
- ``ModelUpdates``: a new version of an on-box model, installed and swapped while running.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent.records import Event, JsonValue
from drivers.base import DriverConfigBase


class RawArgs(BaseModel):
    """Base of a raw verb's arguments, as they arrive through the control socket (validated, closed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RawAccess(ABC):
    """A driver that owns buses and lends them for raw access, probe and the like."""

    @abstractmethod
    def bus_names(self) -> list[str]:
        """The buses this driver owns (names from its config)."""

    @abstractmethod
    def raw_verbs(self) -> Mapping[str, type[RawArgs]]:
        """Every raw verb this driver answers, with the model its arguments must fit."""

    @abstractmethod
    async def raw(self, bus: str, verb: str, args: RawArgs) -> JsonValue:
        """Run ``verb`` on ``bus`` through the bus's own request queue (one master on the wire).

        ``args`` is an instance of ``raw_verbs()[verb]``. Raises typed errors (``DeviceTimeout``,
        ``RequestRefused``, ``WriteOutcomeUnknown`` ...) like any other bus operation."""


class Snapshots(ABC):
    """A driver that can hand out a still picture of one of its cameras."""

    @abstractmethod
    async def snapshot(self, camera: str) -> bytes:
        """A JPEG of ``camera``'s newest frame, privacy regions filled, from the running driver."""

    @classmethod
    @abstractmethod
    def local_snapshot(cls, config: DriverConfigBase, camera: str) -> bytes:
        """Blocking: a JPEG taken by this process when no daemon runs (the CLI's own open of the source)."""


class ModelUpdates(ABC):
    """A driver that runs on-box models and can swap in a new version while running."""

    @abstractmethod
    async def update_model(self, name: str, model_file: Path, manifest_file: Path) -> Event:
        """Verify, self-test and install model ``name``; the ``model_updated``/``model_update_failed``
        event. ``NotSupported`` when this driver does not run that model."""
