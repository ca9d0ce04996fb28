"""Outbox errors and the translation of sqlite3 exceptions at the boundary."""

from __future__ import annotations

import sqlite3
from enum import StrEnum

from agent.errors import OutboxError, TransientError


class OutboxCorrupt(OutboxError):
    """The database file is damaged (SQLITE_CORRUPT / SQLITE_NOTADB or a failed quick_check)."""


class OutboxClosed(OutboxError):
    """The outbox was closed; nothing more is accepted."""


class OutboxWriterDied(OutboxError, TransientError):
    """The writer thread died of a bug; requests fail at once until the supervisor restarts it."""


class Failure(StrEnum):
    """What a sqlite3 error means for the outbox."""

    FULL = "disk full"
    CORRUPT = "corrupt database"
    READ_ONLY = "read-only filesystem"
    IO = "i/o error"
    OTHER = "sqlite error"


_PRIMARY = {
    sqlite3.SQLITE_FULL: Failure.FULL,
    sqlite3.SQLITE_CORRUPT: Failure.CORRUPT,
    sqlite3.SQLITE_NOTADB: Failure.CORRUPT,
    sqlite3.SQLITE_READONLY: Failure.READ_ONLY,
    sqlite3.SQLITE_CANTOPEN: Failure.READ_ONLY,
    sqlite3.SQLITE_IOERR: Failure.IO,
}

_MESSAGES = (
    ("disk is full", Failure.FULL),
    ("malformed", Failure.CORRUPT),
    ("not a database", Failure.CORRUPT),
    ("readonly", Failure.READ_ONLY),
    ("read-only", Failure.READ_ONLY),
    ("unable to open", Failure.READ_ONLY),
    ("disk i/o error", Failure.IO),
)


def classify(exc: sqlite3.Error | OSError) -> Failure:
    """Map an exception to a failure kind; the error code wins, the message is the fallback."""
    if isinstance(exc, OSError):
        import errno

        if exc.errno == errno.ENOSPC:
            return Failure.FULL
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return Failure.READ_ONLY
        return Failure.IO
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _PRIMARY:
        return _PRIMARY[code & 0xFF]
    text = str(exc).lower()
    for needle, failure in _MESSAGES:
        if needle in text:
            return failure
    return Failure.OTHER
