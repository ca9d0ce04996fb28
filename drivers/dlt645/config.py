"""Config of the DL/T 645 driver: serial buses and the meters on them.

    - driver: dlt645
      name: meters
      buses:
        - {name: cabinet, port: /dev/ttyUSB0}            # 2400 baud 8E1, the standard's default
      devices:
        - {name: pole_meter, bus: cabinet, address: "000012345678", profile: chint/ddsu666-dlt645}

A bus on the same port as a Modbus bus (of another driver section) shares that line's queue
(``drivers.serialbus``); both must then give the line's one speed and framing. Profile references
and point names are checked against the profiles by ``Dlt645Driver.check_config``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drivers.base import DriverConfigBase
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.requests import Password
from drivers.point_selection import PointOverride, selected_points
from drivers.serialbus.framing import bits_per_char

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Dlt645Bus(BaseModel):
    model_config = _FROZEN

    name: str = Field(min_length=1)
    port: str = Field(min_length=1, description="device path, or socket://host:port (pyserial URL)")
    baudrate: int = Field(2400, ge=300, le=115_200)
    parity: Literal["N", "E", "O"] = Field("E", description="the standard's is even (a pty takes none: N)")
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout_s: float | None = Field(None, gt=0, le=60, description="default: the profile's timing.timeout_ms")
    retries: int = Field(1, ge=0, le=10, description="reads sent again after a timeout; writes never")
    late_reply_s: float | None = Field(
        None, ge=0, le=60, description="after a timeout the line is listened to this long more; default: the timeout"
    )
    gap_ms: float = Field(20.0, ge=0, le=1000, description="quiet on the line before a request")
    reopen_min_s: float = Field(1.0, gt=0, le=3600, description="first wait before reopening a missing/lost port")
    reopen_max_s: float = Field(30.0, gt=0, le=3600, description="cap of that wait (it doubles, with jitter)")

    @property
    def bits_per_char(self) -> int:
        return bits_per_char(self.parity, self.stopbits, self.bytesize)


class RelayAccess(BaseModel):
    """The password relay control needs (a meter refuses without it; never logged)."""

    model_config = _FROZEN

    level: int = Field(2, ge=0, le=9, description="password level (02 or 04 in the standard)")
    password: str = Field(pattern=r"^[0-9A-Fa-f]{6}$", description="6 hex digits, as written")
    operator: str = Field("00000000", pattern=r"^[0-9]{8}$", description="operator code, 8 digits")

    def wire_password(self) -> Password:
        return Password(self.level, self.password)


class Meter(BaseModel):
    model_config = _FROZEN

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    bus: str
    address: str = Field(description="the 12 digits on the nameplate, quoted")
    profile: str = Field(min_length=1, description="vendor/model of a DL/T 645 firmware profile")
    points: list[str] | dict[str, PointOverride] | None = Field(
        None, description="points to poll (default: every readable point of the profile)"
    )
    period_s: float | None = Field(None, gt=0, description="default period of this meter's points")
    relay: RelayAccess | None = Field(None, description="allows writing the 'relay' point (open/close)")

    @field_validator("address", mode="before")
    @classmethod
    def _twelve_digits(cls, value: object) -> object:
        if isinstance(value, int):
            raise ValueError("quote the address: YAML reads 000012345678 as a number and drops its zeros")
        return value

    @field_validator("address")
    @classmethod
    def _own_address(cls, value: str) -> str:
        address = MeterAddress.parse(value)
        if address.has_wildcard or address.is_broadcast:
            raise ValueError(f"a meter's own address is 12 digits, not {value!r}")
        return address.digits

    def selected_points(self) -> dict[str, PointOverride] | None:
        return selected_points(self.points)


class Dlt645DriverConfig(DriverConfigBase):
    driver: Literal["dlt645"]
    buses: list[Dlt645Bus] = Field(min_length=1)
    devices: list[Meter] = Field(default_factory=list)
    default_period_s: float = Field(10.0, gt=0)
    offline_after: int = Field(3, ge=1, description="consecutive failed cycles before a meter is offline")
    backoff_max_s: float = Field(60.0, gt=0, description="cap of the retry back-off of an offline meter")

    @model_validator(mode="after")
    def _references(self) -> Dlt645DriverConfig:
        buses = [b.name for b in self.buses]
        if len(set(buses)) != len(buses):
            raise ValueError(f"bus names must be unique: {buses}")
        names: set[str] = set()
        addresses: dict[tuple[str, str], str] = {}
        for index, meter in enumerate(self.devices):
            where = f"devices[{index}]"
            if meter.bus not in buses:
                raise ValueError(f"{where}.bus: no bus named {meter.bus!r} (buses: {', '.join(buses)})")
            if meter.name in names:
                raise ValueError(f"{where}.name: two devices are named {meter.name!r}")
            names.add(meter.name)
            other = addresses.setdefault((meter.bus, meter.address), meter.name)
            if other != meter.name:
                raise ValueError(f"{where}.address: {meter.address} on bus {meter.bus!r} is already {other!r}")
        return self

    def bus(self, name: str) -> Dlt645Bus:
        return next(b for b in self.buses if b.name == name)
