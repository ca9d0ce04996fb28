"""The agent's state directory, on disk or on a small tmpfs of its own (the storage faults need that).

``fill()`` writes a filler file until the mount is full (ENOSPC), ``free()`` deletes it;
``read_only(True/False)`` remounts. ``corrupt_outbox()`` overwrites the database header the way a
torn write on a power cut can. Mounting needs root: without it ``mountable`` is False and the
faults that need the mount are skipped with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from pathlib import Path
from typing import Self

from rig.errors import PoleError

_FILLER = "rig-filler.bin"
_BLOCK = b"\xa5" * (64 * 1024)


class StateDir:
    def __init__(self, path: Path, tmpfs: bool, size_mb: int) -> None:
        self.path = path
        self.tmpfs = tmpfs
        self.size_mb = size_mb
        self.mounted = False

    @property
    def mountable(self) -> bool:
        return os.geteuid() == 0

    async def __aenter__(self) -> Self:
        self.path.mkdir(parents=True, exist_ok=True)
        if self.tmpfs:
            if not self.mountable:
                raise PoleError("a tmpfs state dir needs root (mount)")
            await _run("mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0755", "rig-state", str(self.path))
            self.mounted = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.mounted:
            with contextlib.suppress(PoleError):
                await self.read_only(False)
            await _run("umount", "-l", str(self.path))
            self.mounted = False

    def _need_mount(self) -> None:
        if not self.mounted:
            raise PoleError("this fault needs pole.storage.state_dir: tmpfs")

    async def fill(self) -> int:
        """Fill the mount; the bytes written."""
        self._need_mount()
        return await asyncio.to_thread(self._fill)

    def _fill(self) -> int:
        written = 0
        with (self.path / _FILLER).open("ab", buffering=0) as filler:
            while True:
                try:
                    written += filler.write(_BLOCK) or 0
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    return written

    async def free(self) -> None:
        (self.path / _FILLER).unlink(missing_ok=True)

    async def read_only(self, on: bool) -> None:
        self._need_mount()
        await _run("mount", "-o", f"remount,{'ro' if on else 'rw'}", str(self.path))

    def corrupt_outbox(self) -> Path:
        """Overwrite the first 100 bytes (SQLite header) of the outbox; the agent must move it aside."""
        db = self.path / "outbox.db"
        if not db.exists():
            raise PoleError(f"no outbox database at {db}")
        with db.open("r+b") as f:
            f.write(b"torn write, power cut " * 5)
        return db


async def _run(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise PoleError(f"{' '.join(argv)} failed: {err.decode(errors='replace').strip()}")
