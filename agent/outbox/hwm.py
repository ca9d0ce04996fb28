"""A durable sidecar (``seq.hwm``) holding a seq reservation above every seq ever handed out.

The database keeps the exact high-water mark of what it committed; the sidecar bounds everything
else: it survives when the database does not (a corrupt file is moved aside), and it bounds the seqs
a run may have handed out to records it held only in RAM (degraded mode), which no file remembers.
No seq above the value in the sidecar is ever handed out; a clean stop writes it back down to the
last seq, so the next start can tell whether seqs may have gone out unrecorded (seqs.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from agent.private_files import open_private


def read_reservation(path: Path) -> int | None:
    try:
        return int(path.read_text("ascii").strip())
    except (OSError, ValueError):
        return None


def write_reservation(path: Path, value: int) -> None:
    """Write-temp, fsync, rename, fsync the directory: the file is old or new, never torn."""
    tmp = path.with_name(path.name + ".tmp")
    fd = open_private(tmp)
    try:
        os.write(fd, f"{value}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def fallback_seq() -> int:
    """When nothing durable survived: wall-clock microseconds are above any seq this box used."""
    return time.time_ns() // 1000
