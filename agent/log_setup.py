"""Where log lines go and which get through: stderr (and a recent-log file), one gate for both.

* Every line is structured (``agent.log_format``): a library's plain message too, so nothing reaches
  the stream raw.
* Lines nobody rate-limited (a library's) are folded per message: the first, then at most one per
  ``rate_limit_s`` with ``suppressed=N``.
* A library's frame dumps (pymodbus' debug ``send:``/``recv:`` lines) become ``frame`` events on the
  ``edgepost.frames`` logger, under the frames budget, and only while frames are on (``-v``); the
  library's other debug chatter stays out unless the level is debug.
* Not under journald, the daemon also keeps its recent lines in ``<state_dir>/log/agent.log`` (0640,
  ``RECENT_LOG_BYTES`` twice over, rotated), which ``edgepost diagnose`` bundles: the lines of a daemon
  that crashed or never got its control socket up are the ones a technician needs. Under journald the
  journal already keeps them, and the file is not written (no second copy on the flash).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path
from typing import Any

from agent import frame_log
from agent.log_format import EVENT_ATTR, Format, StructuredFormatter, under_journald
from agent.logs import RateLimiter

# libraries whose debug output includes frame dumps; their level follows the frames switch
FRAME_DUMPING_LIBRARIES = ("pymodbus",)
RECENT_LOG_NAME = "agent.log"
RECENT_LOG_BYTES = 1024 * 1024
_GATE_ATTR = "edgepost_gate"
_DIGITS = re.compile(r"\d+")


class LineGate(logging.Filter):
    """Decides once per record (the stderr and the file handler share one decision and one count)."""

    def __init__(self, rate_limit_s: float, level: int) -> None:
        super().__init__()
        self.limiter = RateLimiter(rate_limit_s)
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        verdict = getattr(record, _GATE_ATTR, None)
        if verdict is None:
            verdict = self._decide(record)
            setattr(record, _GATE_ATTR, verdict)
        return bool(verdict)

    def _decide(self, record: logging.LogRecord) -> bool:
        if getattr(record, EVENT_ATTR, None) is not None:
            return True  # ours: log_limited already folded what repeats
        message = record.getMessage()
        library = record.name.split(".", 1)[0]
        if library in FRAME_DUMPING_LIBRARIES:
            frame = frame_log.library_frame(library, message)
            if frame is not None:
                return self._as_frame(record, *frame)
            if record.levelno < self.level:
                return False  # the library's debug chatter, let through its logger only for the frames
        if message.startswith(("event=", '{"event"')):
            return True  # ours, rendered by the caller (with exc_info)
        first_line = message.split("\n", 1)[0]
        suppressed = self.limiter.allow(f"{record.name}:{_DIGITS.sub('#', first_line)[:200]}")
        if suppressed is None:
            return False
        fields: dict[str, Any] = {"msg": message}
        if suppressed:
            fields["suppressed"] = suppressed
        setattr(record, EVENT_ATTR, ("log", fields))
        return True

    def _as_frame(self, record: logging.LogRecord, event: str, fields: dict[str, Any]) -> bool:
        if not frame_log.enabled():
            return False
        suppressed = frame_log.take_budget(str(fields["link"]))
        if suppressed is None:
            return False
        if suppressed:
            fields["suppressed"] = suppressed
        record.name = frame_log.FRAMES.name
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        setattr(record, EVENT_ATTR, (event, fields))
        return True


class RecentLogFile(logging.handlers.RotatingFileHandler):
    """The recent lines, in files only the agent and its group can read (0640 whatever the umask)."""

    def __init__(self, path: Path) -> None:
        from agent.private_files import private_dir

        private_dir(path.parent)
        super().__init__(path, maxBytes=RECENT_LOG_BYTES, backupCount=1, encoding="utf-8")

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        os.fchmod(fd, 0o640)
        return os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace")


def recent_log_path(state_dir: Path) -> Path:
    return state_dir / "log" / RECENT_LOG_NAME


def configure(
    level: str = "info",
    fmt: Format = "logfmt",
    *,
    frames: bool = False,
    rate_limit_s: float = 60.0,
    recent_log: Path | None = None,
    quiet_libraries: bool = False,
) -> Path | None:
    """Set up the root logger; returns the recent-log file in use (None under journald or without one).

    ``quiet_libraries``: a technician's command without -v hears nothing from the libraries below
    critical (pymodbus reports every silent unit of a scan as an error)."""
    numeric = logging.getLevelName(level.upper())
    journald = under_journald(sys.stderr)
    gate = LineGate(rate_limit_s, numeric if isinstance(numeric, int) else logging.INFO)
    formatter = StructuredFormatter(fmt, timestamps=not journald, syslog_prefix=journald)
    stream = logging.StreamHandler(sys.stderr)
    handlers: list[logging.Handler] = [stream]
    file_in_use: Path | None = None
    if recent_log is not None and not journald:
        try:
            handlers.append(RecentLogFile(recent_log))
            file_in_use = recent_log
        except OSError as exc:
            stream.setFormatter(formatter)
            stream.stream.write(formatter.format(_problem(recent_log, exc)) + "\n")
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(gate)
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(gate.level)
    frame_log.enable(frames)
    library_level = logging.DEBUG if frames else logging.CRITICAL if quiet_libraries else logging.WARNING
    for name in FRAME_DUMPING_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
    return file_in_use


def _problem(path: Path, exc: OSError) -> logging.LogRecord:
    record = logging.LogRecord("agent.log_setup", logging.WARNING, __file__, 0, "", None, None)
    setattr(record, EVENT_ATTR, ("recent_log_unavailable", {"path": str(path), "error": str(exc)}))
    return record
