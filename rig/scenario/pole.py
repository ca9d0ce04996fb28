"""The pole of a scenario: buses with devices (simulated, or real ports), cameras, broker, agent, storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from drivers.modbus.simulator.generators import GeneratorSpec
from rig.scenario.base import NAME_PATTERN, Strict


class ExpectedValue(Strict):
    """What a real device should read: a value within a tolerance, or a plausible range."""

    value: float | int | bool | str | None = None
    tolerance: float = Field(0.0, ge=0)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _something(self) -> ExpectedValue:
        if self.value is None and self.min is None and self.max is None:
            raise ValueError("give value (with tolerance) or min/max")
        return self


class DeviceSpec(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    unit: int = Field(ge=1, le=247)
    profile: str = Field(min_length=1, description="profile id or vendor/model")
    firmware: str | None = None
    period_s: float = Field(1.0, gt=0)
    points: dict[str, GeneratorSpec] = Field(default_factory=dict, description="simulator value generators")
    read: list[str] | None = Field(None, description="points the agent polls; default: the generated ones")
    seed: int | None = None
    expected: dict[str, ExpectedValue] = Field(default_factory=dict, description="real hardware: expectations")

    @field_validator("points", mode="before")
    @classmethod
    def _bare_constants(cls, points: Any) -> Any:
        if not isinstance(points, dict):
            return points
        return {
            name: {"kind": "constant", "value": g} if isinstance(g, bool | int | float | str) else g
            for name, g in points.items()
        }

    @property
    def polled(self) -> list[str]:
        return list(self.read) if self.read is not None else list(self.points)


class BusSpec(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["serial", "tcp", "rtu-over-tcp"] = "serial"
    port: str | None = Field(
        None, description="real hardware: /dev/ttyUSB0 or host:port; absent: the rig simulates the bus"
    )
    baud: int = Field(9600, gt=0)
    timeout_s: float = Field(0.5, gt=0)
    retries: int | None = Field(None, ge=0, le=10)
    wire_timing: bool = True
    devices: list[DeviceSpec] = Field(min_length=1)

    @property
    def simulated(self) -> bool:
        return self.port is None

    @model_validator(mode="after")
    def _unique_units(self) -> BusSpec:
        units = [d.unit for d in self.devices]
        duplicates = sorted({u for u in units if units.count(u) > 1})
        if duplicates:
            raise ValueError(f"unit ids {duplicates} appear twice on bus {self.name!r}")
        if self.port is not None and self.kind != "serial" and ":" not in self.port:
            raise ValueError("a real tcp/rtu-over-tcp bus needs port: HOST:PORT")
        return self


class CameraSpec(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    source: Literal["test-pattern", "file", "url"] = "test-pattern"
    file: Path | None = Field(None, description="source: file, an MJPG .avi served over RTSP")
    url: str | None = Field(None, description="source: url, a real camera (field acceptance)")
    pattern: str = "ball"
    fps: int = Field(5, ge=1, le=30)
    options: dict[str, Any] = Field(default_factory=dict, description="extra keys of the agent's camera config")

    @model_validator(mode="after")
    def _source_given(self) -> CameraSpec:
        if self.source == "file" and self.file is None:
            raise ValueError("source: file needs file:")
        if self.source == "url" and not self.url:
            raise ValueError("source: url needs url:")
        return self


class ExternalBroker(Strict):
    """The site's real broker (field acceptance): broker and link faults are skipped."""

    host: str
    port: int = Field(ge=1, le=65535)
    uplink: dict[str, Any] = Field(default_factory=dict, description="extra uplink keys (tls, username...)")


class BrokerSpec(Strict):
    tls: bool = False
    persistence: bool = True
    external: ExternalBroker | None = None


class AgentSpec(Strict):
    config: dict[str, Any] = Field(default_factory=dict, description="merged over the generated config")
    env: dict[str, str] = Field(default_factory=dict)
    start_timeout_s: float = Field(60.0, gt=0)
    stop_timeout_s: float = Field(30.0, gt=0, description="SIGTERM must end the agent within this")


class StorageSpec(Strict):
    state_dir: Literal["disk", "tmpfs"] = Field(
        "disk", description="tmpfs: a small mount of its own, for disk-full and read-only faults"
    )
    size_mb: int = Field(64, ge=1, le=4096)


class PoleSpec(Strict):
    gateway: str = Field("rig-pole", pattern=NAME_PATTERN)
    buses: list[BusSpec] = Field(default_factory=list)
    cameras: list[CameraSpec] = Field(default_factory=list)
    broker: BrokerSpec = BrokerSpec()
    agent: AgentSpec = AgentSpec()
    storage: StorageSpec = StorageSpec()
    expected_file: Path | None = Field(
        None, description="real hardware: YAML device -> point -> {value, tolerance} or {min, max}"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> PoleSpec:
        names = [b.name for b in self.buses]
        names += [d.name for b in self.buses for d in b.devices] + [c.name for c in self.cameras]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"names {duplicates} are used twice (buses, devices and cameras share one namespace)")
        return self

    def device(self, name: str) -> tuple[BusSpec, DeviceSpec] | None:
        for bus in self.buses:
            for device in bus.devices:
                if device.name == name:
                    return bus, device
        return None

    def bus(self, name: str) -> BusSpec | None:
        return next((b for b in self.buses if b.name == name), None)
