"""node-exporter textfile output: written whole to a temp file and renamed, so a scrape never sees half."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from agent.private_files import FILE_MODE, private_dir


def write_atomic(path: Path, text: str, mode: int = FILE_MODE) -> None:
    """Blocking: call it from a thread. The temp file sits in the same directory (rename is atomic there).

    0640 by default: node-exporter reads it as a member of the agent's group (it needs that group to
    enter the 0750 state dir anyway)."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    replaced = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        replaced = True
    finally:
        if not replaced:  # never leave a half-written temp file for node-exporter to trip on
            Path(tmp).unlink(missing_ok=True)
