"""Run the real ``edgepost`` console script as a subprocess and measure what that one child used.

``os.wait4`` gives the rusage of exactly this child (``RUSAGE_CHILDREN`` would report the largest
child the test process ever waited for). The child runs under an address-space cap and a deadline,
so a regression (a YAML bomb expanding again) fails the test instead of eating the machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

EDGEPOST = Path(sys.executable).with_name("edgepost")  # the console script pip installed
ADDRESS_SPACE_CAP = 3 * 1024**3


@dataclass(frozen=True)
class Measured:
    returncode: int | None  # None: killed at the deadline
    stdout: str
    stderr: str
    max_rss_mb: float
    killed: bool


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))


def run_edgepost(workdir: Path, *args: str, deadline_s: float = 20.0) -> Measured:
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([str(EDGEPOST), *args], stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                preexec_fn=_cap_memory)
    killed = False
    end = time.monotonic() + deadline_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > end:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            killed = True
            break
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
    return Measured(
        returncode=None if killed else proc.returncode,
        stdout=out.read_text(errors="replace"),
        stderr=err.read_text(errors="replace"),
        max_rss_mb=usage.ru_maxrss / 1024,
        killed=killed,
    )
