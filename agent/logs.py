"""Structured, journald-friendly logging: one event per line, repeated lines rate-limited.

Use ``log_event(logger, "device_offline", device="meter1", reason="timeout")``. It renders
``event=device_offline device=meter1 reason=timeout`` (logfmt) or a JSON object. A ``RateLimiter``
folds repeats of the same key into one line per interval, with the count of suppressed ones.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Literal

from agent.log_format import EVENT_ATTR, render

__all__ = ["RateLimiter", "log_event", "log_limited", "render", "setup_logging"]


_format: Literal["logfmt", "json"] = "logfmt"


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        # the message is the rendered line (what a capturing test reads); the formatter renders the
        # structure with the time, level and logger in front
        logger.log(level, render(event, fields, _format), extra={EVENT_ATTR: (event, fields)}, stacklevel=2)


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


def setup_logging(
    level: str = "info",
    fmt: Literal["logfmt", "json"] = "logfmt",
    *,
    frames: bool = False,
    rate_limit_s: float = 60.0,
    recent_log: Path | None = None,
    quiet_libraries: bool = False,
) -> Path | None:
    """Structured lines on stderr (``agent.log_setup``); returns the recent-log file in use, if any."""
    global _format
    _format = fmt
    from agent.log_setup import configure

    return configure(level, fmt, frames=frames, rate_limit_s=rate_limit_s, recent_log=recent_log,
                     quiet_libraries=quiet_libraries)
