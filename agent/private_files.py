"""Files and directories only the agent and its group may read: the one mode convention for the state dir.

The state dir holds the outbox (every reading not yet delivered), command ids, learned device facts
and model updates: nothing a local user outside the ``edgepost`` group may read, nothing the group
may change. Directories are ``DIR_MODE`` (0750) and files ``FILE_MODE`` (0640), whatever umask the
caller had.

Use ``private_dir`` instead of ``mkdir``, ``write_private`` (or ``open_private``) instead of
``write_text``/``open``, and ``touch_private`` before ``sqlite3.connect`` (SQLite creates its -wal
and -shm files with the database file's mode). The daemon also sets ``PRIVATE_UMASK`` at start, so a
file created by a library or a component that forgot the helpers is private too.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

from agent.logs import log_event

DIR_MODE = 0o750
FILE_MODE = 0o640
PRIVATE_UMASK = 0o027  # group may not write, others get nothing
_TOO_OPEN = PRIVATE_UMASK

log = logging.getLogger(__name__)


def restrict_umask() -> int:
    """Set the process umask to ``PRIVATE_UMASK``; returns the previous one."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """``mkdir -p`` where every directory it creates gets ``DIR_MODE`` exactly; existing ones are left."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask; this is not
    return path


# chmod may fail where open did not: someone else's file, a read-only filesystem. The file stays as
# it was then; refusing to read or write it would lose data for no gain.
_CHMOD_REFUSED = (errno.EPERM, errno.EACCES, errno.EROFS)


def _chmod_fd(fd: int, mode: int) -> None:
    if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
        try:
            os.fchmod(fd, mode)
        except OSError as exc:
            if exc.errno not in _CHMOD_REFUSED:
                raise


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """``os.open`` with ``O_CREAT``; the file ends up ``FILE_MODE`` (an existing one is tightened too)."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        _chmod_fd(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def touch_private(path: Path) -> None:
    """Create ``path`` empty if missing, ``FILE_MODE`` either way (before SQLite opens it)."""
    os.close(open_private(path, os.O_RDONLY))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write a temp file next to ``path`` and rename it over: readers see old or new, never half.

    ``durable`` also fsyncs the file and the directory (survives a power cut, costs two syncs).
    """
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = open_private(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError:  # a failed write, fsync or rename leaves no temporary file behind
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def secure_state_dir(path: Path) -> None:
    """Create the state dir ``DIR_MODE``, or tighten an existing one and what is in it.

    A dir left group-writable or open to others (a daemon once started by hand with umask 022) is
    fixed: group-write and every bit for others are removed from it and from each file and
    directory below (sockets and symlinks are left alone). One log line says what was changed.
    """
    if not path.exists():
        private_dir(path)
        return
    was = stat.S_IMODE(path.stat().st_mode)
    changed = 0
    for entry in [path, *_entries_below(path)]:
        if _tighten(entry):
            changed += 1
    if changed:
        log_event(log, "state_dir_permissions_tightened", logging.WARNING,
                  path=str(path), dir_mode_was=f"{was:04o}", entries_changed=changed)


def _entries_below(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, dirnames, filenames in os.walk(root):  # does not follow symlinks
        found += [Path(directory, name) for name in (*dirnames, *filenames)]
    return found


def _tighten(entry: Path) -> bool:
    try:
        info = entry.lstat()
    except FileNotFoundError:
        return False
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        return False
    mode = stat.S_IMODE(info.st_mode)
    if not mode & _TOO_OPEN:
        return False
    try:
        os.chmod(entry, mode & ~_TOO_OPEN)
    except OSError as exc:
        if exc.errno not in _CHMOD_REFUSED:
            raise
        return False
    return True
