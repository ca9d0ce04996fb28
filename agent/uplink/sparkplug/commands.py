"""NCMD and DCMD of the edge node.

- NCMD ``Node Control/Rebirth`` = true asks for a new birth sequence (same bdSeq, seq from 0).
- DCMD writes go through the agent's one command path as ``write_point`` commands, so they are
  authorised by ``commands.writable``, checked by the device profile and replay-guarded like any
  downlink command. Sparkplug has no command answer: the outcome is logged, and a successful write
  shows up as the point's next DDATA.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf.message import DecodeError

from agent.logs import log_event
from agent.uplink.sparkplug import datatypes
from agent.uplink.sparkplug.catalog import REBIRTH, Catalog
from agent.uplink.sparkplug.proto import pb

log = logging.getLogger(__name__)

CommandHandler = Callable[[str, bytes], Awaitable[bytes]]
DCMD_TTL_S = 30.0  # a DCMD is acted on now or never: its write_point expires this soon
DCMD_SUFFIX = "sparkplug/dcmd"  # the topic suffix the command handler sees


@dataclass(frozen=True, slots=True)
class WriteRequest:
    device: str
    point: str
    value: Any


def decode(payload: bytes) -> Any | None:
    message = pb.Payload()
    try:
        message.ParseFromString(payload)
    except DecodeError:
        return None
    return message


def wants_rebirth(payload: bytes) -> bool:
    message = decode(payload)
    if message is None:
        log_event(log, "sparkplug_ncmd_invalid", logging.WARNING)
        return False
    return any(m.name == REBIRTH and m.WhichOneof("value") == "boolean_value" and m.boolean_value
               for m in message.metrics)


def write_requests(catalog: Catalog, device: str, payload: bytes) -> list[WriteRequest]:
    """The writes a DCMD asks for; metrics the device did not declare writable are refused (logged)."""
    message = decode(payload)
    if message is None:
        log_event(log, "sparkplug_dcmd_invalid", logging.WARNING, device=device)
        return []
    requests: list[WriteRequest] = []
    for metric in message.metrics:
        alias = metric.alias if metric.HasField("alias") else None
        definition = catalog.writable(device, metric.name or None, alias)
        if definition is None or not definition.writable:
            log_event(log, "sparkplug_dcmd_refused", logging.WARNING, device=device,
                      metric=metric.name or alias, reason="not a writable metric of the device")
            continue
        value = datatypes.metric_value(metric, definition.datatype)
        if value is None:
            log_event(log, "sparkplug_dcmd_refused", logging.WARNING, device=device, metric=definition.name,
                      reason="no value")
            continue
        requests.append(WriteRequest(device, definition.name, value))
    return requests


async def execute_write(handler: CommandHandler | None, request: WriteRequest) -> bytes | None:
    """Run one write through the command handler; returns its JSON answer (None: commands disabled)."""
    if handler is None:
        log_event(log, "sparkplug_dcmd_refused", logging.WARNING, device=request.device, metric=request.point,
                  reason="downlink commands are disabled")
        return None
    command = {
        "id": f"spb-{uuid.uuid4().hex}",
        "expires_at": time.time() + DCMD_TTL_S,
        "kind": "write_point",
        "device": request.device,
        "point": request.point,
        "value": request.value,
    }
    answer = await handler(DCMD_SUFFIX, orjson.dumps(command))
    try:
        doc = orjson.loads(answer)
    except orjson.JSONDecodeError:
        doc = {}
    ok = doc.get("ok") if isinstance(doc, dict) else None
    code = doc.get("code") if isinstance(doc, dict) else None
    log_event(log, "sparkplug_dcmd", device=request.device, metric=request.point, ok=ok, code=code)
    return answer
