"""When and how the outbox file's integrity is checked, so a big backlog does not hold READY back.

``PRAGMA quick_check`` reads the whole file: with a 2 GiB backlog that is tens of seconds from the
page cache and minutes from an SD card, against systemd's ``TimeoutStartSec=120``. So:

- **after a clean close** it is skipped: the run that closed the file left a marker
  (``outbox.clean``) with the file's identity (inode, size, mtime); a start takes the marker away,
  durably, before it writes anything, so a crash from then on counts as unclean; a file changed since
  (or a WAL left behind) does not match and is checked;
- **after an unclean stop** (crash, kill, power cut) a small file (``SYNC_CHECK_MAX_BYTES``) is checked
  before the outbox opens, exactly as before; a bigger one is checked in the background, on its own
  read-only connection and thread, while the agent runs. A finding is handled as at start: the file is
  moved aside, a fresh one starts above the old seqs, an ``outbox_corrupt`` alarm says so; what this
  run committed meanwhile is copied over if it still reads.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from agent.logs import log_event
from agent.outbox.errors import Failure, classify
from agent.outbox.files import files_size
from agent.private_files import fsync_dir, write_private

log = logging.getLogger("agent.outbox")

MARKER = "outbox.clean"
SYNC_CHECK_MAX_BYTES = 64 << 20  # checked before opening: well under a second even from an SD card


def _identity(db: Path) -> dict[str, int] | None:
    wal = db.with_name(db.name + "-wal")
    try:
        if wal.exists() and wal.stat().st_size > 0:
            return None  # the last connection's clean close checkpoints and removes the WAL
        st = db.stat()
    except OSError:
        return None
    return {"ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def mark_clean(db: Path) -> None:
    """After every connection closed cleanly: the next start may skip the check."""
    identity = _identity(db)
    if identity is None:
        return
    try:
        write_private(db.with_name(MARKER), orjson.dumps(identity), durable=True)
    except OSError as exc:  # no marker only means the next start checks the file
        log_event(log, "outbox_clean_marker_failed", logging.WARNING, error=str(exc))


def closed_cleanly(db: Path) -> bool:
    """True when the previous run closed ``db`` cleanly and it is unchanged since. The marker is
    removed either way; when it cannot be removed (read-only), it is not trusted."""
    marker = db.with_name(MARKER)
    try:
        saved = marker.read_bytes()
        marker.unlink()
        fsync_dir(db.parent)
    except OSError:
        return False
    try:
        return bool(orjson.loads(saved) == _identity(db))
    except orjson.JSONDecodeError:
        return False


def check_before_open(db: Path) -> bool:
    """An unclean stop left ``db`` small enough to check synchronously, as at every start before."""
    return files_size(db) <= SYNC_CHECK_MAX_BYTES


class BackgroundCheck:
    """``quick_check`` of the file one generation of the outbox opened, on its own thread."""

    def __init__(self, db: Path, generation: int, on_corrupt: Callable[[str, int], None]) -> None:
        self._db = db
        self._generation = generation
        self._on_corrupt = on_corrupt
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self.passed = False  # finished and found nothing (only then may a clean close skip the next check)
        self._thread = threading.Thread(target=self._run, name="outbox-integrity", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            if self._conn is not None:
                self._conn.interrupt()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        findings: list[str]
        try:
            with self._lock:
                if self._stopping:
                    return
                self._conn = sqlite3.connect(f"file:{self._db}?mode=ro", uri=True, check_same_thread=False)
            findings = [str(r[0]) for r in self._conn.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.Error as exc:
            if self._stopping:
                return
            if classify(exc) is not Failure.CORRUPT:  # not a finding (unreadable file, locked): check next start
                log_event(log, "outbox_integrity_check_failed", logging.WARNING, error=str(exc))
                return
            findings = [str(exc)]  # malformed pages can fail the check itself
        finally:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
        ok = findings == ["ok"]
        log_event(log, "outbox_integrity_checked", logging.INFO if ok else logging.ERROR, ok=ok,
                  seconds=round(time.monotonic() - started, 2), findings="; ".join(findings[:5]))
        if ok:
            self.passed = True
        else:
            self._on_corrupt("; ".join(findings[:5]), self._generation)
