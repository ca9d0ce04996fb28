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
    """The configured cap, else ``fraction`` of the space the outbox could use (free + its own files)."""
    if max_bytes is not None:
        return max_bytes
    try:
        available = shutil.disk_usage(db.parent).free + files_size(db)
    except OSError:
        return hard_cap
    return max(MIN_LIMIT, min(hard_cap, int(fraction * available)))
