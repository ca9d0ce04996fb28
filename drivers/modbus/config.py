"""Config of the Modbus driver: buses (serial, TCP, RTU over TCP) and the devices on them.

No I/O here: profile references and point names are checked against the profiles when the
driver opens. Cross-field checks (a device's bus exists, names are unique) are reported on the
offending field, e.g. ``devices[2].bus``, through a validation context set while the driver's
config validates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)

from drivers.base import DriverConfigBase
from drivers.point_selection import PointOverride, selected_points
from drivers.serialbus.framing import bits_per_char as bits_per_char  # also for planner, rtu_transport

_FROZEN = ConfigDict(extra="forbid", frozen=True)

# Modbus RTU: above 19200 baud the silent interval is fixed at 1.75 ms.
MIN_FRAME_GAP_S = 0.00175


def frame_gap_s(baudrate: int, parity: str, stopbits: int, bytesize: int = 8) -> float:
    """3.5 character times of silence, never below 1.75 ms."""
    return max(3.5 * bits_per_char(parity, stopbits, bytesize) / baudrate, MIN_FRAME_GAP_S)


class Rs485Options(BaseModel):
    """Driver-enable control for RS-485 transceivers wired to RTS (pyserial rs485 settings)."""

    model_config = _FROZEN

    rts_level_for_tx: bool = True
    rts_level_for_rx: bool = False
    delay_before_tx_ms: float = Field(0.0, ge=0)
    delay_after_tx_ms: float = Field(0.0, ge=0)
    loopback: bool = False


class SerialBus(BaseModel):
    model_config = _FROZEN

    transport: Literal["serial"]
    name: str = Field(min_length=1)
    port: str = Field(min_length=1, description="device path, or socket://host:port (pyserial URL)")
    baudrate: int = Field(9600, ge=300, le=921_600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout_s: float = Field(1.0, gt=0, le=60)
    inter_frame_gap_ms: float | None = Field(None, ge=0, description="default: 3.5 chars, min 1.75 ms")
    rs485: Rs485Options | None = None
    retries: int = Field(1, ge=0, le=10)
    late_reply_s: float | None = Field(
        None, ge=0, le=60,
        description="after a timeout, how long the line is still listened to (anything heard is discarded, "
        "so a late reply cannot answer the next request); default: timeout_s",
    )
    reopen_min_s: float = Field(1.0, gt=0, le=3600, description="first wait before reopening a missing/lost port")
    reopen_max_s: float = Field(30.0, gt=0, le=3600, description="cap of that wait (it doubles, with jitter)")

    @property
    def frame_gap_s(self) -> float:
        if self.inter_frame_gap_ms is not None:
            return self.inter_frame_gap_ms / 1000.0
        return frame_gap_s(self.baudrate, self.parity, self.stopbits, self.bytesize)


class TcpBus(BaseModel):
    """Modbus TCP (MBAP framing) or RTU frames over a TCP serial server."""

    model_config = _FROZEN

    transport: Literal["tcp", "rtu-over-tcp"]
    name: str = Field(min_length=1)
    host: str = Field(min_length=1)
    port: int = Field(502, ge=1, le=65535)
    timeout_s: float = Field(1.0, gt=0, le=60)
    max_connections: int = Field(1, ge=1, le=64, description="many devices accept only one")
    retries: int = Field(1, ge=0, le=10)
    reopen_min_s: float = Field(1.0, gt=0, le=3600, description="first wait before reconnecting")
    reopen_max_s: float = Field(30.0, gt=0, le=3600, description="cap of that wait (it doubles, with jitter)")


Bus = Annotated[SerialBus | TcpBus, Field(discriminator="transport")]


class AlarmOverride(BaseModel):
    """Change or disable one of the profile's alarms on this device."""

    model_config = _FROZEN

    enabled: bool = True
    above: float | None = None
    below: float | None = None
    hysteresis: float | None = Field(None, ge=0)


@dataclass
class _Names:
    """What the devices of the driver config being validated may refer to."""

    buses: set[str]
    seen_buses: set[str] = field(default_factory=set)
    seen_devices: set[str] = field(default_factory=set)
    units: dict[tuple[str, int], str] = field(default_factory=dict)


_names: ContextVar[_Names | None] = ContextVar("modbus_config_names", default=None)


@contextmanager
def _naming(raw: Any) -> Iterator[None]:
    buses: set[str] = set()
    if isinstance(raw, dict) and isinstance(raw.get("buses"), list):
        buses = {str(b["name"]) for b in raw["buses"] if isinstance(b, dict) and "name" in b}
    token = _names.set(_Names(buses=buses))
    try:
        yield
    finally:
        _names.reset(token)


class Device(BaseModel):
    model_config = _FROZEN

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    bus: str
    unit_id: int
    profile: str = Field(min_length=1, description="vendor/model[-variant] of a firmware profile")
    firmware: str | None = None
    points: list[str] | dict[str, PointOverride] | None = Field(
        None, description="points to poll (default: every readable point of the profile)"
    )
    period_s: float | None = Field(None, gt=0, description="default period of this device's points")
    alarms: dict[str, AlarmOverride] = Field(default_factory=dict)
    verify_writes: bool = False

    @field_validator("name")
    @classmethod
    def _unique_name(cls, value: str) -> str:
        names = _names.get()
        if names is not None:
            if value in names.seen_devices:
                raise ValueError(f"two devices are named {value!r}; names must be unique")
            names.seen_devices.add(value)
        return value

    @field_validator("bus")
    @classmethod
    def _bus_exists(cls, value: str) -> str:
        names = _names.get()
        if names is not None and value not in names.buses:
            known = ", ".join(sorted(names.buses)) or "none"
            raise ValueError(f"no bus named {value!r} (buses: {known})")
        return value

    @field_validator("unit_id")
    @classmethod
    def _unit_range(cls, value: int, info: ValidationInfo) -> int:
        if not 1 <= value <= 247:
            raise ValueError("must be 1..247")
        names = _names.get()
        bus, name = info.data.get("bus"), info.data.get("name")
        if names is not None and bus is not None and name is not None:
            other = names.units.setdefault((bus, value), name)
            if other != name:
                raise ValueError(f"unit {value} on bus {bus!r} is already used by {other!r}")
        return value

    def selected_points(self) -> dict[str, PointOverride] | None:
        return selected_points(self.points)


class ModbusDriverConfig(DriverConfigBase):
    driver: Literal["modbus"]
    buses: list[Bus] = Field(min_length=1)
    devices: list[Device] = Field(default_factory=list)
    default_period_s: float = Field(10.0, gt=0)
    offline_after: int = Field(3, ge=1, description="consecutive failed cycles before a device is offline")
    backoff_max_s: float = Field(60.0, gt=0, description="cap of the retry back-off of an offline device")
    learned_ranges_file: bool = Field(True, description="persist learned illegal ranges in the state dir")
    reprobe_after_s: float = Field(
        600.0, gt=0, description="first re-probe of a register range a device refused (exception 2)"
    )
    reprobe_max_s: float = Field(86_400.0, gt=0, description="cap of the re-probe wait, which doubles per refusal")

    @model_validator(mode="wrap")
    @classmethod
    def _with_names(cls, data: Any, handler: ModelWrapValidatorHandler[ModbusDriverConfig]) -> Any:
        with _naming(data):
            return handler(data)

    @field_validator("buses")
    @classmethod
    def _unique_buses(cls, buses: list[SerialBus | TcpBus]) -> list[SerialBus | TcpBus]:
        seen: set[str] = set()
        for bus in buses:
            if bus.name in seen:
                raise ValueError(f"two buses are named {bus.name!r}; names must be unique")
            seen.add(bus.name)
        return buses

    def bus(self, name: str) -> SerialBus | TcpBus:
        for bus in self.buses:
            if bus.name == name:
                return bus
        raise KeyError(name)
