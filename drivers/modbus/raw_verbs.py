"""The Modbus driver's raw verbs (``drivers.capabilities.RawAccess``): what the control socket's ``raw``
request may ask of a bus the daemon holds, each with the model its arguments must fit.

- ``read``: ``unit`` 1..247, ``table``, ``address``, ``count`` -> the register/bit values;
- ``write``: ``unit`` 0..247 (0 broadcasts), ``table`` coil or holding, ``address``, ``values``;
- ``identify``: ``unit`` -> the profiles that fit it, best first (``edgepost probe``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Protocol

from pydantic import Field

from agent.records import JsonValue
from drivers.capabilities import RawArgs
from drivers.modbus.identify import ProfileMatch
from drivers.modbus.profile import Table


class RawRead(RawArgs):
    unit: int = Field(ge=0, le=255)
    table: Table
    address: int = Field(ge=0, le=0xFFFF)
    count: int = Field(1, ge=1, le=2000)


class RawWrite(RawArgs):
    unit: int = Field(ge=0, le=255)
    table: Table
    address: int = Field(ge=0, le=0xFFFF)
    values: list[int] = Field(min_length=1, max_length=123)


class Identify(RawArgs):
    unit: int = Field(ge=1, le=247)


VERBS: dict[str, type[RawArgs]] = {"read": RawRead, "write": RawWrite, "identify": Identify}


class BusOwner(Protocol):
    """The Modbus driver's bus operations the verbs map onto."""

    async def raw_read(self, bus: str, unit: int, table: Table, address: int, count: int) -> list[int]: ...

    async def raw_write(self, bus: str, unit: int, table: Table, address: int, values: list[int]) -> None: ...

    async def identify(self, bus: str, unit: int) -> list[ProfileMatch]: ...


async def run_verb(owner: BusOwner, bus: str, args: RawArgs) -> JsonValue:
    """Run the verb ``args`` is the model of (the control handler validated them with ``VERBS``)."""
    if isinstance(args, RawRead):
        values: list[JsonValue] = list(await owner.raw_read(bus, args.unit, args.table, args.address, args.count))
        return values
    if isinstance(args, RawWrite):
        await owner.raw_write(bus, args.unit, args.table, args.address, list(args.values))
        return {"written": len(args.values)}
    if isinstance(args, Identify):
        matches: list[JsonValue] = [asdict(match) for match in await owner.identify(bus, args.unit)]
        return matches
    raise TypeError(f"not a Modbus raw verb: {type(args).__name__}")
