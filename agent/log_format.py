"""How one log event becomes one line: logfmt or JSON, whoever logged it.

``log_event`` records carry their event and fields (``EVENT_ATTR``); a line some other code already
rendered (``log.error(render(...), exc_info=...)``) is kept as it is; anything else, a library's
plain message included, becomes ``event=log msg="..."``. A traceback becomes a ``traceback`` field,
so every event is one line whatever it holds.

Under journald (``JOURNAL_STREAM`` names our stderr) the journal adds the time and reads the level
from a ``<N>`` prefix; elsewhere each line starts with ``time=``.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import IO, Any, Literal

import orjson

Format = Literal["logfmt", "json"]
EVENT_ATTR = "edgepost_event"  # (event, fields) on a LogRecord made by agent.logs.log_event

_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def logfmt_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n\t\r'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        return '"' + escaped.replace("\t", "\\t") + '"'
    return text


def render(event: str, fields: dict[str, Any], fmt: Format = "logfmt") -> str:
    if fmt == "json":
        return orjson.dumps({"event": event, **fields}, default=str).decode()
    pairs = (f"{k}={logfmt_value(v)}" for k, v in fields.items())
    return " ".join([f"event={logfmt_value(event)}", *pairs])


def under_journald(stream: IO[str] | None = None, environ: dict[str, str] | None = None) -> bool:
    """True when ``stream`` (stderr) is connected to the journal.

    systemd sets ``JOURNAL_STREAM=<dev>:<inode>`` of the stream it connected; a unit whose output goes
    to a file, or a program started from a shell inside such a unit, does not match it. (``INVOCATION_ID``
    alone only says "started by systemd", not where the output goes.)"""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        info = os.fstat((stream if stream is not None else _stderr()).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def _stderr() -> IO[str]:
    import sys

    return sys.stderr


class StructuredFormatter(logging.Formatter):
    """Every record as one logfmt or JSON line: [time], level, logger, then the event and its fields."""

    def __init__(self, fmt: Format = "logfmt", *, timestamps: bool = True, syslog_prefix: bool = False) -> None:
        super().__init__()
        self.fmt: Format = fmt
        self.timestamps = timestamps
        self.syslog_prefix = syslog_prefix

    def format(self, record: logging.LogRecord) -> str:
        head: dict[str, Any] = {}
        if self.timestamps:
            head["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        head["level"] = record.levelname.lower()
        head["logger"] = record.name
        tail: dict[str, Any] = {}
        if record.exc_info:
            tail["traceback"] = self.formatException(record.exc_info)
        elif record.stack_info:
            tail["stack"] = self.formatStack(record.stack_info)
        line = self._line(record, head, tail)
        if self.syslog_prefix:
            return f"<{_SYSLOG_PRIORITY.get(record.levelno, 6)}>{line}"
        return line

    def _line(self, record: logging.LogRecord, head: dict[str, Any], tail: dict[str, Any]) -> str:
        structured = getattr(record, EVENT_ATTR, None)
        if structured is not None:
            event, fields = structured
            return self._render(head, event, {**fields, **tail})
        message = record.getMessage()
        if self.fmt == "logfmt" and message.startswith("event="):  # rendered by the caller already
            return " ".join([self._render_head(head), message, *(f"{k}={logfmt_value(v)}" for k, v in tail.items())])
        if self.fmt == "json" and message.startswith('{"event"'):
            try:
                parsed = orjson.loads(message)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                event = str(parsed.pop("event"))
                return self._render(head, event, {**parsed, **tail})
        return self._render(head, "log", {"msg": message, **tail})

    def _render_head(self, head: dict[str, Any]) -> str:
        return " ".join(f"{k}={logfmt_value(v)}" for k, v in head.items())

    def _render(self, head: dict[str, Any], event: str, fields: dict[str, Any]) -> str:
        # a field named like a head key keeps its value under another name rather than hide the head's
        fields = {(f"{k}_" if k in head or k == "event" else k): v for k, v in fields.items()}
        if self.fmt == "json":
            return orjson.dumps({**head, "event": event, **fields}, default=str).decode()
        return " ".join([self._render_head(head), render(event, fields, "logfmt")])
