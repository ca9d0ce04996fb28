"""Structured, journald-friendly logging: one event per line, repeated lines rate-limited.

Use ``log_event(logger, "device_offline", device="meter1", reason="timeout")``. It renders
``event=device_offline device=meter1 reason=timeout`` (logfmt) or a JSON object. A ``RateLimiter``
folds repeats of the same key into one line per interval, with the count of suppressed ones.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal

import orjson


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def render(event: str, fields: dict[str, Any], fmt: Literal["logfmt", "json"] = "logfmt") -> str:
    if fmt == "json":
        return orjson.dumps({"event": event, **fields}, default=str).decode()
    pairs = (f"{k}={_logfmt_value(v)}" for k, v in fields.items())
    return " ".join([f"event={_logfmt_value(event)}", *pairs])


_format: Literal["logfmt", "json"] = "logfmt"


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, render(event, fields, _format))


class RateLimiter:
    """Lets the first occurrence of a key through, then at most one per ``interval_s``."""

    def __init__(self, interval_s: float = 60.0, clock: Any = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """None when suppressed; otherwise the number of repeats suppressed since the last line."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._suppressed.pop(key, 0)

    def reset(self, key: str) -> None:
        self._last.pop(key, None)
        self._suppressed.pop(key, None)


def log_limited(
    limiter: RateLimiter,
    logger: logging.Logger,
    key: str,
    event: str,
    level: int = logging.WARNING,
    **fields: Any,
) -> None:
    suppressed = limiter.allow(key)
    if suppressed is None:
        return
    if suppressed:
        fields["suppressed"] = suppressed
    log_event(logger, event, level, **fields)


def setup_logging(level: str = "info", fmt: Literal["logfmt", "json"] = "logfmt") -> None:
    """Plain lines on stderr: journald adds the timestamp and unit; a terminal gets them readable."""
    global _format
    _format = fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
