"""Downlink command messages: one pydantic model per kind, discriminated on ``kind``.

Every command carries an ``id`` (answers and replay protection) and ``expires_at`` (epoch seconds);
both are required. Unknown fields are refused so a typo never silently changes meaning.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Annotated, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

from agent.records import Event, JsonValue, Priority


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


MAX_INLINE_MODEL_BYTES = 8 * 1024 * 1024  # larger models are copied to the box and named by path
_MAX_INLINE_B64 = 4 * (MAX_INLINE_MODEL_BYTES + 2) // 3


class UpdateModel(CommandBase):
    """A new version of an ONNX model, either already on the box (``manifest`` + ``file``, absolute
    paths: copied there by the operator's fleet tooling) or inline (``manifest_yaml`` + ``model_b64``,
    for models up to 8 MiB). Nothing is ever downloaded."""

    kind: Literal["update_model"]
    model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$", description="model name (its folder)")
    manifest: StrictStr | None = Field(None, min_length=2)
    file: StrictStr | None = Field(None, min_length=2)
    manifest_yaml: StrictStr | None = Field(None, min_length=1, max_length=1024 * 1024)
    model_b64: StrictStr | None = Field(None, min_length=1, max_length=_MAX_INLINE_B64)

    @field_validator("manifest", "file")
    @classmethod
    def _absolute(cls, path: str | None) -> str | None:
        if path is not None and not PurePosixPath(path).is_absolute():
            raise ValueError("must be an absolute path on the box")
        return path

    @field_validator("model_b64")
    @classmethod
    def _base64(cls, data: str | None) -> str | None:
        if data is not None:
            try:
                base64.b64decode(data, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"not valid base64 ({exc})") from None
        return data

    @model_validator(mode="after")
    def _one_source(self) -> UpdateModel:
        on_box = (self.manifest is not None, self.file is not None)
        inline = (self.manifest_yaml is not None, self.model_b64 is not None)
        if on_box == (True, True) and inline == (False, False):
            return self
        if inline == (True, True) and on_box == (False, False):
            return self
        raise ValueError("give either manifest and file (paths on the box) or manifest_yaml and model_b64")

    @property
    def model_bytes(self) -> bytes | None:
        return None if self.model_b64 is None else base64.b64decode(self.model_b64)


Command = Annotated[
    WritePoint | ReadPoint | SetPeriod | ResendBirth | Ping | UpdateModel, Field(discriminator="kind")
]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)
COMMAND_KINDS = ("write_point", "read_point", "set_period", "resend_birth", "ping", "update_model")


RESULT_KIND = "cmd_result"  # Event.kind of an answer in the outbox; the uplink sends it alone on cmd-result
RESULT_DEVICE = "_commands"  # Event.device of answers: no configured device name starts with "_"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The answer published on ``cmd-result`` for every command, good or bad."""

    id: str | None
    ok: bool
    code: str
    message: str = ""
    result: JsonValue = None

    def as_dict(self) -> dict[str, JsonValue]:
        return {"id": self.id, "ok": self.ok, "code": self.code, "message": self.message, "result": self.result}

    def to_json(self) -> bytes:
        return orjson.dumps(self.as_dict())

    @classmethod
    def from_json(cls, data: bytes) -> CommandResult:
        """An answer stored by ``to_json`` (the replay store's copy)."""
        doc = orjson.loads(data)
        command_id = doc.get("id")
        return cls(
            id=command_id if isinstance(command_id, str) else None,
            ok=doc.get("ok") is True,
            code=str(doc.get("code", "")),
            message=str(doc.get("message", "")),
            result=doc.get("result"),
        )

    def to_event(self, ts: float) -> Event:
        """The outbox record that carries this answer (alarm lane: someone is waiting for it)."""
        return Event(device=RESULT_DEVICE, kind=RESULT_KIND, ts=ts, priority=Priority.ALARM, data=self.as_dict())
