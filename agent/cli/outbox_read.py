"""Read the outbox file without opening it as an Outbox: safe beside a running daemon (no writer thread,
no expiry, no corrupt-file recovery from a second process) and without one, where it creates nothing.

SQLite's ``mode=ro`` still creates the ``-wal`` and ``-shm`` files of a WAL database when they are
missing (and leaves them, owned by whoever ran the command: root on a technician's ``sudo``, which
the daemon's user then cannot open). So: with a ``-wal`` and ``-shm`` present (a daemon has the file
open, or stopped without a checkpoint) ``mode=ro`` reads them; with no ``-wal`` (a cleanly stopped
daemon checkpointed everything into the main file) ``immutable=1`` reads the file alone, no lock,
nothing created.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

from agent.cli.exit_codes import CliError, ExitCode
from agent.errors import OutboxError
from agent.outbox.api import OutboxStats, StoredRecord
from agent.outbox.codec import COLUMNS, decode_many
from agent.outbox.config import OutboxConfig
from agent.outbox.files import files_size, size_limit
from agent.outbox.schema import lane_clause
from agent.records import Priority

DB_NAME = "outbox.db"  # agent/outbox/engine.py


def outbox_path(state_dir: Path) -> Path:
    db = state_dir / DB_NAME
    if not db.is_file():
        raise CliError(f"no outbox at {db} (the daemon has not stored anything on this box yet)", ExitCode.FAILED)
    return db


def connect_readonly(db: Path) -> sqlite3.Connection:
    """A connection that can neither write the outbox nor create a file beside it."""
    wal, shm = db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")
    if wal.exists() and not shm.exists():  # mode=ro would create the -shm: read the main file only
        sys.stderr.write(f"edgepost: note: {wal} is not checkpointed; records in it are not counted "
                         "(the daemon folds them in when it starts)\n")
    mode = "mode=ro" if wal.exists() and shm.exists() else "immutable=1"
    try:
        return sqlite3.connect(f"file:{quote(str(db))}?{mode}", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise OutboxError(f"{db}: {exc}") from None


def record_pages(state_dir: Path, page: int = 2000) -> Iterator[list[StoredRecord]]:
    """Every stored record in seq order, ``page`` at a time; never the whole table in memory."""
    db = outbox_path(state_dir)
    query = f"SELECT {COLUMNS} FROM records WHERE seq > ? ORDER BY seq LIMIT ?"
    with closing(connect_readonly(db)) as conn:
        try:
            after = 0
            while rows := conn.execute(query, (after, page)).fetchall():
                records = decode_many(rows)
                yield records
                after = records[-1].seq
        except sqlite3.Error as exc:
            raise OutboxError(f"{db}: {exc}") from None


def read_stats(state_dir: Path, config: OutboxConfig) -> OutboxStats:
    """What ``Outbox.stats`` reports, from the file (no daemon: no RAM spill, no refusals counted)."""
    db = outbox_path(state_dir)
    with closing(connect_readonly(db)) as conn:
        try:
            by_priority: dict[str, int] = {}
            oldest: list[float] = []
            for p in Priority:
                count = conn.execute(f"SELECT COUNT(*) FROM records WHERE {lane_clause(p)}").fetchone()
                by_priority[p.name.lower()] = int(count[0])
                first = conn.execute(f"SELECT ts FROM records WHERE {lane_clause(p)} ORDER BY seq LIMIT 1").fetchone()
                if first is not None:
                    oldest.append(float(first[0]))
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            top = conn.execute("SELECT MAX(seq) FROM records").fetchone()
        except sqlite3.Error as exc:
            raise OutboxError(f"{db}: {exc}") from None
    return OutboxStats(
        records=sum(by_priority.values()),
        by_priority=by_priority,
        oldest_ts=min(oldest) if oldest else None,
        bytes_on_disk=files_size(db),
        max_bytes=size_limit(db, config.max_bytes, config.max_fraction_of_free_disk, config.hard_cap_bytes),
        evicted_total=int(meta.get("evicted_total", 0)),
        expired_total=int(meta.get("expired_total", 0)),
        last_seq=max(int(meta.get("last_seq", 0)), int(top[0] or 0)),
        degraded=None,
    )
