"""Downlink command messages: one pydantic model per kind, discriminated on ``kind``.

Every command carries an ``id`` (answers and replay protection) and ``expires_at`` (epoch seconds);
both are required. Unknown fields are refused so a typo never silently changes meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter

from agent.records import JsonValue


class CommandBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=128)
    expires_at: float = Field(gt=0, description="epoch seconds; the command is refused after this")


class WritePoint(CommandBase):
    kind: Literal["write_point"]
    device: str = Field(min_length=1)
    point: str = Field(min_length=1)
    value: StrictBool | StrictInt | StrictFloat | StrictStr
    verify: bool = False


class ReadPoint(CommandBase):
    kind: Literal["read_point"]
    device: str = Field(min_length=1)
    point: str = Field(min_length=1)


class SetPeriod(CommandBase):
    kind: Literal["set_period"]
    device: str = Field(min_length=1)
    point: str | None = None
    period_s: float = Field(gt=0, le=86400)


class ResendBirth(CommandBase):
    kind: Literal["resend_birth"]


class Ping(CommandBase):
    kind: Literal["ping"]


Command = Annotated[WritePoint | ReadPoint | SetPeriod | ResendBirth | Ping, Field(discriminator="kind")]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)
COMMAND_KINDS = ("write_point", "read_point", "set_period", "resend_birth", "ping")


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The answer published on ``cmd-result`` for every command, good or bad."""

    id: str | None
    ok: bool
    code: str
    message: str = ""
    result: JsonValue = None

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"id": self.id, "ok": self.ok, "code": self.code, "message": self.message, "result": self.result}
        )
