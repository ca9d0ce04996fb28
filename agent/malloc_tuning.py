"""glibc malloc settings for the long-running daemon (goal P7: a small, flat RSS).

- ``limit_arenas``: at most two malloc arenas. glibc gives each thread that allocates its own arena
  (up to 8 per core), each keeping the peak of what its thread ever held; the daemon's few threads
  (outbox writer, reader, ``to_thread`` workers) allocate little. Must run before any thread starts.
  ``MALLOC_ARENA_MAX`` in the environment wins (glibc reads it first).
- ``release_free_memory``: once start-up (imports, config, every firmware profile parsed) is done, hand
  the heap's free pages back to the kernel (``malloc_trim``).

Elsewhere than glibc (musl) both do nothing.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache
from typing import Any

M_ARENA_MAX = -8  # malloc.h
ARENAS = 2


@cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's soname; ctypes.util.find_library costs megabytes
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_arenas() -> bool:
    """True when the limit was set here (glibc, and no ``MALLOC_ARENA_MAX`` given)."""
    libc = _libc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, ARENAS))


def release_free_memory() -> bool:
    """True when some memory went back to the kernel."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
