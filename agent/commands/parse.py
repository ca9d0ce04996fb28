"""Bytes from MQTT -> a validated ``Command``, or a ``CommandError`` whose message names the field.

Bounded before anything is built from the bytes: a payload larger than ``MAX_COMMAND_BYTES`` is not
parsed at all, and one nested deeper than ``MAX_COMMAND_DEPTH`` is refused (a command is a flat
object; an inline model update, the largest, is about 12 MiB).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from agent.commands.models import COMMAND_ADAPTER, COMMAND_KINDS, MAX_INLINE_MODEL_BYTES, Command
from agent.errors import CommandError

# an inline model in base64, its manifest (JSON-escaped) and the other fields
MAX_COMMAND_BYTES = 4 * MAX_INLINE_MODEL_BYTES // 3 + 4 * 1024 * 1024
MAX_COMMAND_DEPTH = 8


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


def load_payload(payload: bytes) -> Any:
    """The JSON value of a payload within the size and depth bounds; ``CommandError`` otherwise."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError("too_large", f"payload is {len(payload)} bytes, more than {MAX_COMMAND_BYTES}")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise CommandError("bad_json", f"payload is not valid JSON: {exc}") from None
    if _deeper_than(data, MAX_COMMAND_DEPTH):
        raise CommandError("too_deep", f"payload nests more than {MAX_COMMAND_DEPTH} levels deep")
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def payload_id(payload: bytes) -> str | None:
    """The ``id`` of a refused payload, for its answer, when it is small enough to be parsed."""
    if len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        return raw_id(orjson.loads(payload))
    except orjson.JSONDecodeError:
        return None


def parse_command(payload: bytes) -> Command:
    """The validated command. Raises ``CommandError`` (code too_large/bad_json/too_deep/invalid/unknown_kind)."""
    data = load_payload(payload)
    if not isinstance(data, dict):
        raise CommandError("invalid", "payload must be a JSON object")
    try:
        return COMMAND_ADAPTER.validate_python(data)
    except ValidationError as exc:
        code, message = _describe(exc)
        raise CommandError(code, message) from None
