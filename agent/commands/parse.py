"""Bytes from MQTT -> a validated ``Command``, or a ``CommandError`` whose message names the field."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from agent.commands.models import COMMAND_ADAPTER, COMMAND_KINDS, Command
from agent.errors import CommandError


def raw_id(data: Any) -> str | None:
    """The ``id`` of a command that failed validation, when one can be read, for its answer."""
    if isinstance(data, dict):
        value = data.get("id")
        if isinstance(value, str) and 0 < len(value) <= 128:
            return value
    return None


def _describe(exc: ValidationError) -> tuple[str, str]:
    """(code, message) for the first problem, naming the field path without the union tag."""
    err = exc.errors(include_url=False)[0]
    if err["type"] == "union_tag_invalid":
        return "unknown_kind", f"field 'kind': unknown command kind; expected one of {', '.join(COMMAND_KINDS)}"
    if err["type"] == "union_tag_not_found":
        return "invalid", "field 'kind': required"
    loc = [str(p) for p in err["loc"]]
    if loc and loc[0] in COMMAND_KINDS:
        loc = loc[1:]
    path = ".".join(loc) or "<command>"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return "invalid", f"field '{path}': {err['msg']}{suffix}"


def parse_command(payload: bytes) -> Command:
    """The validated command. Raises ``CommandError`` (code bad_json/invalid/unknown_kind)."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise CommandError("bad_json", f"payload is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CommandError("invalid", "payload must be a JSON object")
    try:
        return COMMAND_ADAPTER.validate_python(data)
    except ValidationError as exc:
        code, message = _describe(exc)
        raise CommandError(code, message) from None
