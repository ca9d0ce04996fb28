"""File-level helpers: moving a corrupt database aside and sizing the outbox against free disk."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

SIDE_FILES = ("", "-wal", "-shm")
MIN_LIMIT = 256 * 1024


def move_aside(db: Path) -> Path:
    """Rename ``outbox.db`` (and -wal/-shm) to ``outbox.db.corrupt-<UTC timestamp>``; returns the new name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = db.with_name(f"{db.name}.corrupt-{stamp}")
    for suffix in SIDE_FILES:
        src = db.with_name(db.name + suffix)
        if src.exists():
            os.replace(src, target.with_name(target.name + suffix))
    return target


def files_size(db: Path) -> int:
    total = 0
    for suffix in SIDE_FILES:
        try:
            total += db.with_name(db.name + suffix).stat().st_size
        except OSError:
            continue
    return total


def size_limit(db: Path, max_bytes: int | None, fraction: float, hard_cap: int) -> int:
    """The configured cap, else ``fraction`` of the space the outbox could use (free + its own files).

    A configured cap larger than the disk is lowered to what the disk can hold.
    """
    try:
        available = shutil.disk_usage(db.parent).free + files_size(db)
    except OSError:
        return max_bytes or hard_cap
    if max_bytes is not None:
        return max(MIN_LIMIT, min(max_bytes, int(0.95 * available)))
    return max(MIN_LIMIT, min(hard_cap, int(fraction * available)))


class Ballast:
    """A reserve file released when the disk is full, so SQLite has room to checkpoint and evict.

    Deleting rows needs free space too (WAL frames); without a reserve a full disk can lock the
    outbox in place. The reserve is taken back once there is room again.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self.present = path.exists()  # tracked, not stat'ed after every commit

    def ensure(self) -> None:
        """Create the reserve; raises OSError (ENOSPC, EROFS) when it cannot."""
        if self.present:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.posix_fallocate(fd, 0, self.size)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(tmp, self.path)
        self.present = True

    def release(self) -> bool:
        self.present = False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
