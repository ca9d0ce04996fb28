"""Firmware profile models: one device model over a range of firmware versions.

These pydantic models are the contract shared by the loader (``profiles.py``), the codec, the read
planner, the scheduler, the write path and the simulator. A profile file is validated against them
*after* ``extends:`` has been resolved by the loader.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Table(StrEnum):
    COIL = "coil"  # FC1 read, FC5/15 write, 1 bit
    DISCRETE = "discrete"  # FC2 read-only, 1 bit
    INPUT = "input"  # FC4 read-only, 16-bit registers
    HOLDING = "holding"  # FC3 read, FC6/16 write, 16-bit registers

    @property
    def is_bit(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)

    @property
    def writable(self) -> bool:
        return self in (Table.COIL, Table.HOLDING)


class DataType(StrEnum):
    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"  # ``length`` bytes, two per register
    BITFIELD = "bitfield"  # a uint16 whose ``bits`` are named flags


REGISTER_COUNT: dict[DataType, int] = {
    DataType.BOOL: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.BITFIELD: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT64: 4,
}


class Endian(StrEnum):
    BIG = "big"
    LITTLE = "little"


class Access(StrEnum):
    R = "r"
    W = "w"
    RW = "rw"

    @property
    def readable(self) -> bool:
        return self in (Access.R, Access.RW)

    @property
    def writable(self) -> bool:
        return self in (Access.W, Access.RW)


class Point(BaseModel):
    """One named value in the device's register map."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: Table
    address: int = Field(ge=0, le=0xFFFF, description="0-based PDU address")
    type: DataType = DataType.UINT16
    length: int | None = Field(None, ge=1, le=250, description="string length in bytes")
    byte_order: Endian = Field(Endian.BIG, description="byte order inside each 16-bit register")
    word_order: Endian = Field(Endian.BIG, description="register order of multi-register values")
    scale: float = 1.0
    offset: float = 0.0  # engineering value = raw * scale + offset
    unit: str | None = None
    access: Access = Access.R
    min: float | None = None  # write range, in engineering units
    max: float | None = None
    enum: dict[int, str] | None = None
    bits: dict[int, str] | None = Field(None, description="bitfield: bit number (0 = LSB) -> flag name")
    deadband: float | None = Field(None, ge=0, description="report-by-exception threshold, absolute")
    period: float | None = Field(None, gt=0, description="default poll period, seconds")
    description: str | None = None

    @property
    def register_count(self) -> int:
        """Registers (or bits, for coil/discrete tables) this point occupies."""
        if self.type is DataType.STRING:
            return ((self.length or 0) + 1) // 2
        return REGISTER_COUNT[self.type]

    @property
    def end(self) -> int:
        """One past the last address this point occupies."""
        return self.address + self.register_count


class IdentRegister(BaseModel):
    """A register read during identification and the value expected there (if any)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: Table = Table.HOLDING
    address: int = Field(ge=0, le=0xFFFF)
    type: DataType = DataType.UINT16
    length: int | None = None
    word_order: Endian = Endian.BIG
    byte_order: Endian = Endian.BIG
    expect: int | float | str | list[int | float | str] | None = None
    firmware: bool = Field(False, description="this register holds the firmware version")


class DeviceIdentification(BaseModel):
    """Modbus function 43/14 objects expected (substring match, case-insensitive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor_name: str | None = None
    product_code: str | None = None
    model_name: str | None = None


class Identification(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    registers: list[IdentRegister] = Field(default_factory=list)
    device_id: DeviceIdentification | None = None


class AlarmPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Alarm(BaseModel):
    """A threshold on a point with hysteresis. Raised when crossing, cleared past the hysteresis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str
    above: float | None = None
    below: float | None = None
    hysteresis: float = Field(0.0, ge=0)
    absolute: bool = Field(False, description="compare |value| (tilt either way)")
    priority: AlarmPriority = AlarmPriority.HIGH
    message: str | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> Alarm:
        if self.above is None and self.below is None:
            raise ValueError("an alarm needs 'above' or 'below'")
        return self


class FirmwareRange(BaseModel):
    """Inclusive range of firmware versions (dotted numbers); open ends are None."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: str | None = None
    max: str | None = None


class SerialDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class ReadLimits(BaseModel):
    """Per-device limits below the Modbus maxima; many cheap devices answer fewer registers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_registers: int = Field(125, ge=1, le=125)
    max_bits: int = Field(2000, ge=1, le=2000)
    max_hole: int | None = Field(
        None,
        ge=0,
        le=124,
        description="unused registers a merged read may span; none: as many as the wire cost pays for "
        "(a device that refuses a hole teaches it, see learned.py)",
    )
    turnaround_ms: float = Field(5.0, ge=0, description="typical device answer delay")


class Profile(BaseModel):
    """A resolved firmware profile (after ``extends:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="vendor/model[-variant], from the file path")
    vendor: str
    model: str
    description: str | None = None
    firmware: FirmwareRange = FirmwareRange()
    extends: str | None = None
    source: str | list[str]
    verified: bool = False
    doubts: list[str] = Field(default_factory=list)
    serial: SerialDefaults = SerialDefaults()
    limits: ReadLimits = ReadLimits()
    identification: Identification = Identification()
    points: dict[str, Point]
    alarms: dict[str, Alarm] = Field(default_factory=dict)
