"""The size and depth bounds of a downlink payload, at their edges."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from agent.commands.parse import MAX_COMMAND_BYTES, MAX_COMMAND_DEPTH, load_payload, parse_command, payload_id
from agent.errors import CommandError


def nested(levels: int) -> Any:
    """An object nested ``levels`` deep in total (the outer object counts as one)."""
    value: Any = 1
    for _ in range(levels - 1):
        value = [value]
    return {"id": "c1", "pad": value} if levels > 1 else {"id": "c1"}


def test_depth_at_the_limit_is_parsed_one_more_is_refused() -> None:
    assert load_payload(orjson.dumps(nested(MAX_COMMAND_DEPTH)))["id"] == "c1"
    with pytest.raises(CommandError) as refused:
        parse_command(orjson.dumps(nested(MAX_COMMAND_DEPTH + 1)))
    assert refused.value.code == "too_deep"
    assert payload_id(orjson.dumps(nested(MAX_COMMAND_DEPTH + 1))) == "c1"  # still answered by id


def test_size_above_the_limit_is_refused_unparsed() -> None:
    body = b'{"id": "c1", "pad": "' + b"x" * MAX_COMMAND_BYTES + b'"}'
    with pytest.raises(CommandError) as refused:
        parse_command(body)
    assert refused.value.code == "too_large"
    assert payload_id(body) is None
    broken = b"{" * (MAX_COMMAND_BYTES + 1)  # not JSON at all: refused by size, never by the parser
    with pytest.raises(CommandError, match="more than"):
        parse_command(broken)


def test_an_inline_model_update_of_the_largest_size_fits() -> None:
    import base64

    from agent.commands.models import MAX_INLINE_MODEL_BYTES

    b64 = base64.b64encode(bytes(MAX_INLINE_MODEL_BYTES)).decode()
    body = orjson.dumps({"id": "u1", "expires_at": 1e10, "kind": "update_model", "model": "m",
                         "manifest_yaml": "name: m\n" * (1024 * 1024 // 8 - 1), "model_b64": b64})
    assert len(body) <= MAX_COMMAND_BYTES
    assert parse_command(body).kind == "update_model"
