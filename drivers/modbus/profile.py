"""Firmware profile models: one device model over a range of firmware versions.

These pydantic models are the contract shared by the loader (``profiles.py``), the codec, the read
planner, the scheduler, the write path and the simulator. A profile file is validated against them
*after* ``extends:`` has been resolved by the loader.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from drivers.modbus.byte_layout import check_layout_field, normalise_layout_keys
from drivers.modbus.generator_specs import GeneratorSpec, bare_constant


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


def _layout_size(table: Any, type_name: Any) -> tuple[int | None, str] | None:
    """Registers a value of this table/type spans, for its byte layout; None when the type is invalid."""
    if table in (Table.COIL, Table.DISCRETE, "coil", "discrete"):
        return None, f"{table} bit"
    try:
        data_type = DataType(type_name if type_name is not None else DataType.UINT16)
    except ValueError:
        return None
    if data_type is DataType.STRING:
        return None, "string"
    return REGISTER_COUNT[data_type], str(data_type)


_ORDER_HELP = (
    "byte layout in the letters of device manuals and `profile show`: ABCD (both orders big), CDAB "
    "(words swapped), BADC (bytes swapped), DCBA; 8 letters for 64-bit types (GHEFCDAB), 2 for "
    "16-bit ones; sets byte_order and word_order"
)


class _ByteLayout(BaseModel):
    """``order:`` and letter layouts under ``byte_order:``/``word_order:``, for points and identification."""

    @model_validator(mode="before")
    @classmethod
    def _letter_layouts(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        size = _layout_size(data.get("table"), data.get("type"))
        return data if size is None else normalise_layout_keys(data, *size)

    @field_validator("byte_order", "word_order", "order", mode="before", check_fields=False)
    @classmethod
    def _layout_field(cls, value: Any, info: ValidationInfo) -> Any:
        if "type" not in info.data:  # the type itself is invalid, and reported
            return value
        size = _layout_size(info.data.get("table"), info.data["type"])
        if size is None:
            return value
        return check_layout_field(value, *size, key=info.field_name or "")


class Point(_ByteLayout):
    """One named value in the device's register map."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: Table = Field(description="Modbus table: coil, discrete, input or holding")
    address: int = Field(ge=0, le=0xFFFF, description="0-based PDU address (register 40001 is holding 0)")
    type: DataType = Field(DataType.UINT16, description="value type; coil and discrete points are bool")
    length: int | None = Field(None, ge=1, le=250, description="string length in bytes")
    byte_order: Endian = Field(Endian.BIG, description="byte order inside each 16-bit register (or a letter layout)")
    word_order: Endian = Field(
        Endian.BIG, description="register order of multi-register values, big = most significant first"
    )
    order: str | None = Field(None, exclude=True, description=_ORDER_HELP)
    scale: float = Field(1.0, description="engineering value = raw * scale + offset")
    offset: float = Field(0.0, description="added after scale")
    unit: str | None = Field(None, description="engineering unit, published with every reading")
    access: Access = Field(Access.R, description="r, w or rw; writes need a writable table (coil, holding)")
    min: float | None = Field(None, description="lowest value a write may set, engineering units")
    max: float | None = Field(None, description="highest value a write may set, engineering units")
    enum: dict[int, str] | None = Field(None, description="raw value -> label, published as the label")
    bits: dict[int, str] | None = Field(None, description="bitfield: bit number (0 = LSB) -> flag name")
    deadband: float | None = Field(None, ge=0, description="report-by-exception threshold, absolute")
    period: float | None = Field(
        None, gt=0, description="poll period, seconds; a device's period_s applies to points without one"
    )
    description: str | None = Field(None, description="free text for the technician")
    comms: bool = Field(
        False,
        description="a communication setting (unit address, baud rate, parity): a write can cut the device "
        "off the bus, so `edgepost write` asks first (names like modbus_address or baud_rate count as one too)",
    )
    simulate: GeneratorSpec | None = Field(
        None,
        description="what the simulator serves for this point (a generator, or a bare constant); "
        "default: derived from unit, enum and write range",
    )

    @field_validator("simulate", mode="before")
    @classmethod
    def _bare_constant(cls, value: Any) -> Any:
        return bare_constant(value)

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


class IdentRegister(_ByteLayout):
    """A register read during identification and the value expected there (if any)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: Table = Field(Table.HOLDING, description="Modbus table")
    address: int = Field(ge=0, le=0xFFFF, description="0-based PDU address")
    type: DataType = Field(DataType.UINT16, description="value type")
    length: int | None = Field(None, description="string length in bytes")
    word_order: Endian = Field(Endian.BIG, description="register order of multi-register values")
    byte_order: Endian = Field(Endian.BIG, description="byte order inside each register")
    order: str | None = Field(None, exclude=True, description=_ORDER_HELP)
    expect: int | float | str | list[int | float | str] | None = Field(
        None, description="the value (or any of the values) this model answers; none = only that it answers"
    )
    firmware: bool = Field(False, description="this register holds the firmware version")


class DeviceIdentification(BaseModel):
    """Modbus function 43/14 objects expected (substring match, case-insensitive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor_name: str | None = Field(None, description="object 0x00 contains this")
    product_code: str | None = Field(None, description="object 0x01 contains this")
    model_name: str | None = Field(None, description="object 0x05 contains this")


class Identification(BaseModel):
    """How ``edgepost probe`` and ``scan`` tell this model from others."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    registers: list[IdentRegister] = Field(default_factory=list, description="registers read, in order")
    device_id: DeviceIdentification | None = Field(None, description="function 43/14 objects, if the device has them")


class AlarmPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Alarm(BaseModel):
    """A threshold on a point with hysteresis. Raised when crossing, cleared past the hysteresis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str = Field(description="name of a numeric point of this profile")
    above: float | None = Field(None, description="raised when the value goes above this")
    below: float | None = Field(None, description="raised when the value goes below this (give above, below or both)")
    hysteresis: float = Field(0.0, ge=0, description="cleared only this far back inside the threshold")
    absolute: bool = Field(False, description="compare |value| (tilt either way)")
    priority: AlarmPriority = Field(AlarmPriority.HIGH, description="low, medium, high or critical")
    message: str | None = Field(None, description="text sent with the alarm")

    @model_validator(mode="after")
    def _one_threshold(self) -> Alarm:
        if self.above is None and self.below is None:
            raise ValueError("an alarm needs 'above' or 'below'")
        return self


class FirmwareRange(BaseModel):
    """Inclusive range of firmware versions (dotted numbers); open ends are None."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: str | None = Field(None, description='lowest firmware covered, e.g. "2" or "1.4.0"')
    max: str | None = Field(None, description='highest firmware covered; "1" includes 1.9.2')


class SerialDefaults(BaseModel):
    """The line settings the device ships with (what ``scan`` tries first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baudrate: int = Field(9600, description="bits per second")
    parity: Literal["N", "E", "O"] = Field("N", description="none, even or odd")
    stopbits: Literal[1, 2] = Field(1, description="stop bits")
    bytesize: Literal[7, 8] = Field(8, description="data bits")


class ReadLimits(BaseModel):
    """Per-device limits below the Modbus maxima; many cheap devices answer fewer registers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_registers: int = Field(125, ge=1, le=125, description="registers one read may ask for")
    max_bits: int = Field(2000, ge=1, le=2000, description="coils or discrete inputs one read may ask for")
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

    id: str = Field(description="vendor/file, from the file path; optional in the file, and must match it")
    vendor: str = Field(description="manufacturer as printed on the device")
    model: str = Field(description="model as printed on the device")
    description: str | None = Field(None, description="one line for `profile list` and the technician")
    firmware: FirmwareRange = Field(FirmwareRange(), description="firmware versions this profile covers")
    extends: str | None = Field(None, description="id of the base profile this one overrides (see Inheritance)")
    source: str | list[str] = Field(description="where the register map comes from (manual, URL, repository @ commit)")
    verified: bool = Field(False, description="checked against the manufacturer's register table")
    doubts: list[str] = Field(default_factory=list, description="what is not certain, for whoever verifies it")
    serial: SerialDefaults = Field(SerialDefaults(), description="factory line settings")
    limits: ReadLimits = Field(ReadLimits(), description="what one request may ask of this device")
    identification: Identification = Field(Identification(), description="how probe and scan recognise it")
    points: dict[str, Point] = Field(description="name -> point; names are what readings and commands use")
    alarms: dict[str, Alarm] = Field(default_factory=dict, description="name -> alarm on one of the points")
