"""Raw access to a DL/T 645 bus for a technician (probe, scan, one data item), through the bus's
shared queue: the daemon lends its line, one master stays on the wire.

- ``read_address``: the broadcast read-address (``AA..AA``, control 0x13): the one meter on the line
  answers with its 12 digits (several meters collide: a framing error, not an address);
- ``read``: one data item of one meter by DI and format, decoded as the standard says.

The driver declares them through the plugin boundary's ``RawAccess`` (``drivers/capabilities.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, field_validator

from agent.errors import RequestRefused
from agent.records import JsonValue
from drivers.capabilities import RawArgs
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.bcd import DataFormat
from drivers.dlt645.bus import MeterBus
from drivers.dlt645.di import DataId
from drivers.dlt645.requests import read_address, read_data


class Dlt645RawArgs(RawArgs):
    timeout_s: float = Field(1.0, gt=0, le=30)


class ReadAddressArgs(Dlt645RawArgs):
    pass


class ReadItemArgs(Dlt645RawArgs):
    address: str = Field(description="12 digits of the meter (AA bytes match any)")
    di: str = Field(description="data identifier, e.g. '02 01 01 00'")
    format: str = Field("XXX.X", description="the item's format, e.g. XXXXXX.XX")
    signed: bool = False

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return MeterAddress.parse(value).digits

    @field_validator("di")
    @classmethod
    def _di(cls, value: str) -> str:
        DataId.parse(value)
        return value

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        DataFormat.parse(value)
        return value


RAW_VERBS: Mapping[str, type[Dlt645RawArgs]] = {"read_address": ReadAddressArgs, "read": ReadItemArgs}


async def run_raw(bus: MeterBus, verb: str, args: Dlt645RawArgs) -> JsonValue:
    if isinstance(args, ReadAddressArgs) and verb == "read_address":
        found = await bus.read(read_address(args.timeout_s), retries=0)
        return {"address": found.digits}
    if isinstance(args, ReadItemArgs) and verb == "read":
        tx = read_data(MeterAddress.parse(args.address), DataId.parse(args.di), DataFormat.parse(args.format),
                       args.signed, args.timeout_s)
        value = await bus.read(tx, retries=0)
        return {"address": args.address, "di": args.di, "value": value}
    raise RequestRefused(f"raw verb {verb!r} with {type(args).__name__}: expected one of {', '.join(RAW_VERBS)}")
