"""agent/malloc_tuning.py: the daemon's glibc malloc settings (goal P7)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = "from agent.malloc_tuning import limit_arenas, release_free_memory; print(limit_arenas(), release_free_memory())"


def run(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
                    reason="glibc only")
def test_arenas_are_limited_unless_the_environment_says_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    limited, _ = run(env).split()
    assert limited == "True"
    limited, _ = run({**env, "MALLOC_ARENA_MAX": "4"}).split()
    assert limited == "False"  # an operator's setting stands


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
                    reason="glibc only")
def test_free_pages_between_live_blocks_go_back_to_the_kernel() -> None:
    code = (
        "from agent.malloc_tuning import release_free_memory\n"
        "blocks = [bytearray(4000) for _ in range(20_000)]\n"  # past pymalloc: glibc's heap
        "kept = blocks[::50]\n"  # live blocks pin the heap: only malloc_trim can return the holes
        "del blocks\n"
        "print(release_free_memory())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
