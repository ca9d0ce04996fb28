"""What to simulate: pydantic models for ``edgepost simulate --spec sim.yaml`` (or built from CLI flags).

    buses:
      - serial: {port: /dev/pts/5, baud: 9600}
        devices:
          - unit: 1
            profile: eastron/sdm120
            points:
              voltage: {kind: sine, amplitude: 4, period: 60, offset: 230}
              frequency: 50.0            # a bare value is a constant
            faults: ["slow:20"]
      - tcp: {host: 127.0.0.1, port: 5020}          # framing: socket (Modbus TCP) or rtu (RTU over TCP)
        devices: [{unit: 1, profile: witmotion/wt901c-485, holes: allow}]
      - serial: {port: /dev/pts/7, baud: 2400, parity: E}   # a meter cabinet: Modbus and DL/T 645 on one line
        devices: [{unit: 1, profile: eastron/sdm120}]
        meters:
          - {meter: "000012345678", profile: chint/ddsu666-dlt645, points: {voltage: 231.4}}

Errors name the file, line and field path (``sim.yaml:7:13 buses[0].devices[0].unit: ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.errors import ConfigError
from agent.yamlsource import YamlDocument, load_yaml_file, parse_yaml, validation_problems
from drivers.modbus.generator_specs import GeneratorSpec, bare_constant
from drivers.modbus.simulator.device import HolePolicy
from drivers.modbus.simulator.faults import parse_fault


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SerialEndpoint(_Model):
    """A serial line (or one end of a socat pty pair) the devices answer on, RTU framing."""

    port: str = Field(min_length=1, description="serial device or pty path")
    baud: int = Field(9600, gt=0, description="bits per second, for wire timing (a pty ignores it)")
    parity: Literal["N", "E", "O"] = Field("N", description="none, even or odd")
    stopbits: Literal[1, 2] = Field(1, description="stop bits")
    bytesize: Literal[7, 8] = Field(8, description="data bits")
    wire_timing: bool = Field(True, description="answer after the frame's time on the wire at this baud")
    adapter_latency_ms: float = Field(
        0.0, ge=0, le=255, description="USB-serial adapter latency timer (FTDI: 1..16 ms); 0: a native UART"
    )
    turnaround_jitter_ms: float = Field(0.0, ge=0, description="device answers up to this much later, uniformly")
    path_seed: int = Field(0, description="seed of the path's random draws")


class TcpEndpoint(_Model):
    """A TCP listener: Modbus TCP, or RTU frames over TCP (a serial server)."""

    host: str = Field("127.0.0.1", description="listen address")
    port: int = Field(ge=0, le=65535, description="0 picks a free port")
    framing: Literal["socket", "rtu"] = Field("socket", description="Modbus TCP, or RTU over TCP")
    wire_timing: bool = Field(False, description="model a serial line behind the socket (RTU over TCP)")
    baud: int = Field(9600, gt=0, description="baud of that modelled line")


class DeviceSpec(_Model):
    """One simulated device: a profile's register map answering on one unit id."""

    unit: int = Field(ge=1, le=247, description="Modbus unit id")
    profile: str = Field(min_length=1, description="profile id or vendor/model")
    firmware: str | None = Field(None, description="firmware version to report (and to pick a variant by)")
    holes: HolePolicy = Field(
        HolePolicy.REJECT, description="reject: exception 2 outside the map, like most devices; allow: zeros"
    )
    turnaround_ms: float | None = Field(None, ge=0, description="default: the profile's limits.turnaround_ms")
    faults: list[str] = Field(default_factory=list, description="faults active from the start (see Faults)")
    points: dict[str, GeneratorSpec] = Field(
        default_factory=dict, description="point name -> generator, or a bare value for a constant"
    )
    seed: int | None = Field(None, description="seed of the random faults")

    @field_validator("faults")
    @classmethod
    def _valid_faults(cls, faults: list[str]) -> list[str]:
        for fault in faults:
            parse_fault(fault)
        return faults

    @field_validator("points", mode="before")
    @classmethod
    def _bare_constants(cls, points: Any) -> Any:
        if not isinstance(points, dict):
            return points
        return {name: bare_constant(g) for name, g in points.items()}


class MeterSpec(_Model):
    """One simulated DL/T 645 meter: a ``driver: dlt645`` profile's data items at one address."""

    meter: str = Field(pattern=r"^[0-9]{12}$", description="the 12-digit meter address, quoted")
    profile: str = Field(min_length=1, description="DL/T 645 profile id or vendor/model")
    turnaround_ms: float | None = Field(None, ge=0, description="default: the profile's timing.turnaround_ms")
    faults: list[str] = Field(default_factory=list, description="faults active from the start (see Faults)")
    points: dict[str, GeneratorSpec] = Field(
        default_factory=dict, description="point name -> generator, or a bare value for a constant"
    )
    seed: int | None = Field(None, description="seed of the random faults")

    @field_validator("meter", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int):
            raise ValueError("quote the meter address: YAML reads 000012345678 as a number and drops its zeros")
        return value

    @field_validator("faults")
    @classmethod
    def _valid_faults(cls, faults: list[str]) -> list[str]:
        return DeviceSpec._valid_faults(faults)

    @field_validator("points", mode="before")
    @classmethod
    def _bare_constants(cls, points: Any) -> Any:
        return DeviceSpec._bare_constants(points)


class BusSpec(_Model):
    """One line or listener and the devices on it; give exactly one of serial or tcp."""

    serial: SerialEndpoint | None = Field(None, description="serve on a serial line or pty")
    tcp: TcpEndpoint | None = Field(None, description="serve on a TCP port")
    devices: list[DeviceSpec] = Field(default_factory=list, description="unit ids must differ on one bus")
    meters: list[MeterSpec] = Field(
        default_factory=list, description="DL/T 645 meters on the same serial line (addresses must differ)"
    )

    @model_validator(mode="after")
    def _one_endpoint(self) -> BusSpec:
        if (self.serial is None) == (self.tcp is None):
            raise ValueError("give exactly one of 'serial' or 'tcp'")
        if not self.devices and not self.meters:
            raise ValueError("give at least one of 'devices' (Modbus) or 'meters' (DL/T 645)")
        if self.meters and self.serial is None:
            raise ValueError("DL/T 645 meters are served on a serial line only")
        addresses = [m.meter for m in self.meters]
        if len(set(addresses)) != len(addresses):
            raise ValueError(f"meter addresses {sorted(addresses)} appear twice on one bus")
        units = [d.unit for d in self.devices]
        duplicates = sorted({u for u in units if units.count(u) > 1})
        if duplicates:
            raise ValueError(f"unit ids {duplicates} appear twice on one bus")
        return self


class SimulatorSpec(_Model):
    """What ``edgepost simulate --spec FILE`` serves."""

    profiles_dir: Path | None = Field(
        None,
        description="profile directory searched first (relative to the spec file), before "
        "$EDGEPOST_PROFILE_DIR, /etc/edgepost/profiles and the shipped profiles",
    )
    buses: list[BusSpec] = Field(min_length=1, description="each served at the same time")


def validate_spec(doc: YamlDocument) -> SimulatorSpec:
    if not isinstance(doc.data, dict):
        raise ConfigError([f"{doc.where(())} <document>: expected a mapping with 'buses'"])
    try:
        return SimulatorSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc, model=SimulatorSpec)) from None


def load_spec(path: Path) -> tuple[SimulatorSpec, YamlDocument]:
    """The spec and its document (kept for positions of later errors, e.g. an unknown point name)."""
    try:
        doc = load_yaml_file(path)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    spec = validate_spec(doc)
    if spec.profiles_dir is not None and not spec.profiles_dir.is_absolute():
        # relative to the spec file, not to wherever the command was started
        spec = spec.model_copy(update={"profiles_dir": path.parent / spec.profiles_dir})
    return spec, doc


def parse_spec(text: str, source: str = "<spec>") -> tuple[SimulatorSpec, YamlDocument]:
    try:
        doc = parse_yaml(text, source)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    return validate_spec(doc), doc
