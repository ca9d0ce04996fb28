"""Control-socket messages: one JSON object per line, validated with pydantic at both ends.

A client sends one request line; the server answers with one ``Response`` line, or, for ``watch``,
one ``Response`` per record until either side closes. ``error.kind`` carries the error class name so
the CLI can map it to an exit code without parsing the message.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from agent.records import PointValue

MAX_LINE_BYTES = 16 * 1024 * 1024  # an export or status of a big site stays well under this


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StatusRequest(_Request):
    op: Literal["status"] = "status"


class WatchRequest(_Request):
    op: Literal["watch"] = "watch"
    device: str | None = Field(None, description="only records of this device")


class ReadPointRequest(_Request):
    op: Literal["read_point"] = "read_point"
    device: str
    point: str


class WritePointRequest(_Request):
    op: Literal["write_point"] = "write_point"
    device: str
    point: str
    value: PointValue
    verify: bool = False


class RawRequest(_Request):
    """Raw access on a bus the daemon holds (``edgepost read --address``, ``probe`` ...), for any protocol:
    the driver owning ``bus`` names its verbs and validates ``args`` with its own model."""

    op: Literal["raw"] = "raw"
    bus: str = Field(min_length=1)
    verb: str = Field(min_length=1, description="a verb of that bus's driver, e.g. Modbus read, write, identify")
    args: dict[str, Any] = Field(default_factory=dict, description="JSON; checked by the verb's model")


class SyncNowRequest(_Request):
    op: Literal["sync_now"] = "sync_now"


class BufferStatsRequest(_Request):
    op: Literal["buffer_stats"] = "buffer_stats"


class BufferPurgeRequest(_Request):
    op: Literal["buffer_purge"] = "buffer_purge"
    device: str | None = None
    before: float | None = None


class SnapshotRequest(_Request):
    op: Literal["camera_snapshot"] = "camera_snapshot"
    camera: str


class ReloadRequest(_Request):
    op: Literal["reload"] = "reload"


class ForgetLearnedRequest(_Request):
    """Forget what a device's driver learned about it (e.g. registers it refused), so it is probed afresh."""

    op: Literal["forget_learned"] = "forget_learned"
    device: str = Field(min_length=1)


class ModelUpdateRequest(_Request):
    """``edgepost model update``: a new version of a model, as files on this box (absolute paths the daemon
    reads). Handled like the ``update_model`` downlink command, by every driver that runs the model."""

    op: Literal["model_update"] = "model_update"
    model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    file: str
    manifest: str

    @field_validator("file", "manifest")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not PurePosixPath(path).is_absolute():
            raise ValueError("must be an absolute path on the box")
        return path


Request = Annotated[
    StatusRequest
    | WatchRequest
    | ReadPointRequest
    | WritePointRequest
    | RawRequest
    | SyncNowRequest
    | BufferStatsRequest
    | BufferPurgeRequest
    | SnapshotRequest
    | ReloadRequest
    | ForgetLearnedRequest
    | ModelUpdateRequest,
    Field(discriminator="op"),
]
request_adapter: TypeAdapter[Request] = TypeAdapter(Request)


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="error class name, e.g. DeviceTimeout")
    message: str


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: bool
    result: Any = Field(None, description="any JSON value")
    error: ErrorBody | None = None
    more: bool = Field(False, description="a streaming answer (watch) continues after this line")
