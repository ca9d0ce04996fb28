"""A real, tiny tmpfs per test (we run as root): disk full and read-only remounts are the real thing."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class TinyFs:
    def __init__(self, path: Path) -> None:
        self.path = path

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True, capture_output=True)

    def fill(self) -> None:
        """Write a filler file until the filesystem is full (ENOSPC, for real)."""
        block = b"\xa5" * 4096
        with (self.path / "filler.bin").open("ab", buffering=0) as filler:
            while True:
                try:
                    filler.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    return

    def free(self) -> None:
        (self.path / "filler.bin").unlink(missing_ok=True)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[TinyFs]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield TinyFs(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
