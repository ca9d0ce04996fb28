"""DL/T 645 meter profiles: ``firmware_profiles/<vendor>/<model>.yaml`` with ``driver: dlt645``.

The same spirit as the Modbus profiles (vendor, model, firmware range, ``extends:``, sources,
``verified`` and doubts, serial defaults, points, alarms), but a point is a data identifier read by
the meter's address rather than a register. A point of a standard item may leave out ``format``,
``unit`` and ``signed``: they come from the standard's table (``standard_items.py``). A point that
gives them and disagrees with the standard must say ``nonstandard: true`` (a typo in a format is a
wrong value on every read).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drivers.dlt645.bcd import DataFormat
from drivers.dlt645.codes import Edition
from drivers.dlt645.di import DataId
from drivers.dlt645.standard_items import standard_item
from drivers.modbus.profile import Access, Alarm, FirmwareRange  # the same r/w/rw, alarms and firmware ranges


class Dlt645Point(BaseModel):
    """One data item of the meter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    di: str = Field(description="data identifier, quoted: '02 01 01 00' (2007) or 'B611' (1997)")
    format: str = Field(description="the standard's format: XXXXXX.XX, XXX.X, XX.XXXX, NNNNNNNNNNNN ...")
    signed: bool = Field(False, description="the top bit of the most significant byte is the sign")
    unit: str | None = None
    scale: float = Field(1.0, gt=0, description="engineering value = decoded value * scale (e.g. 1000 for kW -> W)")
    access: Access = Access.R
    nonstandard: bool = Field(False, description="format/sign deliberately differ from the standard's table")
    deadband: float | None = Field(None, ge=0, description="report-by-exception threshold, absolute")
    period: float | None = Field(None, gt=0, description="default poll period, seconds")
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _standard_defaults(cls, data: Any) -> Any:
        """Fill ``format``/``signed``/``unit`` of a standard item the point leaves out."""
        if not isinstance(data, dict) or not isinstance(data.get("di"), str):
            return data
        try:
            item = standard_item(DataId.parse(data["di"]))
        except ValueError:
            return data  # the field validator says what is wrong with it
        if item is None:
            return data
        filled = dict(data)
        filled.setdefault("format", item.format)
        filled.setdefault("signed", item.signed)
        if item.unit is not None:
            filled.setdefault("unit", item.unit)
        return filled

    @field_validator("di", mode="before")
    @classmethod
    def _valid_di(cls, value: Any) -> str:
        return str(DataId.parse(value))

    @field_validator("format")
    @classmethod
    def _valid_format(cls, value: str) -> str:
        DataFormat.parse(value)
        return value

    @model_validator(mode="after")
    def _as_the_standard_says(self) -> Dlt645Point:
        item = standard_item(self.data_id)
        if item is None or self.nonstandard:
            return self
        if (item.format, item.signed) != (self.format, self.signed):
            sign = "signed" if item.signed else "unsigned"
            raise ValueError(
                f"{self.di} is {item.format} {sign} in the standard ({item.name}); "
                "set nonstandard: true if this meter really differs"
            )
        return self

    @property
    def data_id(self) -> DataId:
        return DataId.parse(self.di)

    @property
    def data_format(self) -> DataFormat:
        return DataFormat.parse(self.format)


class SerialDefaults(BaseModel):
    """The standard's line: 2400 baud, 8 data bits, even parity, 1 stop bit (11 bits a character)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baudrate: int = 2400
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class Timing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    turnaround_ms: float = Field(50.0, ge=0, description="typical delay from request to reply")
    timeout_ms: float = Field(1000.0, gt=0, description="how long to wait for a reply")


class Dlt645Profile(BaseModel):
    """A resolved DL/T 645 profile (after ``extends:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="vendor/model[-variant], from the file path")
    driver: Literal["dlt645"]
    vendor: str
    model: str
    description: str | None = None
    edition: Edition = Field(Edition.V2007, description="'2007' (4-byte DIs) or '1997' (2-byte DIs)")
    firmware: FirmwareRange = FirmwareRange()
    extends: str | None = None
    source: str | list[str]
    verified: bool = False
    doubts: list[str] = Field(default_factory=list)
    serial: SerialDefaults = SerialDefaults()
    timing: Timing = Timing()
    points: dict[str, Dlt645Point]
    alarms: dict[str, Alarm] = Field(default_factory=dict)

    @field_validator("edition", mode="before")
    @classmethod
    def _edition_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value  # edition: 2007 unquoted
