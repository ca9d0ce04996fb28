"""Virtual serial lines: a socat pty pair, optionally behind stable symlinks.

``socat_pty_pair()`` yields the two pty paths. ``PtyLink`` keeps two symlinks (``sim`` and ``agent``
ends) pointing at the current pair, so the rig can pull the "USB adapter" (kill socat: both ptys
vanish) and plug it back (a new pair behind the same names), as a real ``/dev/ttyUSB0`` would do.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rig.errors import PoleError, ToolMissing

_PTY_LINE = re.compile(rb"PTY is (/dev/\S+)\n")


class SocatError(PoleError):
    """socat is missing, or did not report its two ptys in time."""


def _start_socat(timeout_s: float) -> tuple[subprocess.Popen[bytes], list[str]]:
    socat = shutil.which("socat")
    if socat is None:
        raise ToolMissing("socat is not installed (apt-get install socat)")
    proc = subprocess.Popen(
        [socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        return proc, _read_pty_paths(proc, timeout_s)
    except BaseException:
        _kill(proc)
        raise


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait(timeout=10)
    if proc.stderr is not None:
        proc.stderr.close()


@contextmanager
def socat_pty_pair(timeout_s: float = 10.0) -> Iterator[tuple[str, str]]:
    """Yield ``(a, b)``: two pty paths joined by socat. Bytes written to one come out of the other."""
    proc, paths = _start_socat(timeout_s)
    try:
        yield paths[0], paths[1]
    finally:
        _kill(proc)


def _read_pty_paths(proc: subprocess.Popen[bytes], timeout_s: float) -> list[str]:
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    deadline = time.monotonic() + timeout_s
    seen = b""
    # socat prints both PTY lines before "starting data transfer loop"; read the raw fd (no Python
    # buffering to hide lines from select) and bound every wait by the deadline.
    while len(paths := [m.decode() for m in _PTY_LINE.findall(seen)]) < 2:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(remaining, 0))
        if not ready:
            raise SocatError(f"socat did not report two ptys within {timeout_s}s: {seen!r}")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise SocatError(f"socat exited early (rc={proc.poll()}): {seen!r}")
        seen += chunk
    while not all(os.path.exists(p) for p in paths):
        if time.monotonic() > deadline:
            raise SocatError(f"socat ptys {paths} did not appear")
        time.sleep(0.01)
    return paths


class PtyLink:
    """A pty pair behind two stable symlinks; ``unplug()``/``plug()`` replace the pair underneath."""

    def __init__(self, directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.sim_end = directory / f"{name}.sim"
        self.agent_end = directory / f"{name}.agent"
        self._proc: subprocess.Popen[bytes] | None = None
        self.sim_pty = ""

    @property
    def plugged(self) -> bool:
        return self._proc is not None

    def plug(self) -> None:
        if self._proc is not None:
            return
        self._proc, paths = _start_socat(10.0)
        self.sim_pty = paths[0]
        for link, target in ((self.sim_end, paths[0]), (self.agent_end, paths[1])):
            tmp = link.with_name(link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target)
            tmp.replace(link)

    def unplug(self) -> None:
        """Both ptys vanish (the agent's open port gets EIO/hang-up), the names dangle."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _kill(proc)
        for link in (self.sim_end, self.agent_end):
            link.unlink(missing_ok=True)

    def __enter__(self) -> PtyLink:
        self.plug()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unplug()
