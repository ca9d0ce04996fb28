"""``edgepost`` with a fault seam in the outbox engine, for daemon tests (never shipped).

Run as ``python -m tests.integration.agent.fault_harness --config FILE run``: the real CLI and daemon,
with ``OutboxEngine.commit`` and ``OutboxEngine.reopen`` wrapped. While ``<state_dir>/FAULT`` exists
they misbehave as its content says:

- ``raise``: raise ``RuntimeError`` on the writer thread (a bug the writer does not expect), and a
  restart attempt fails the same way, so the writer stays dead until the file goes;
- ``hang``: the commit blocks until the file goes (a writer stuck in a system call).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from agent.cli.main import main
from agent.outbox.engine import OutboxEngine


def _fault(engine: OutboxEngine) -> str | None:
    try:
        return (engine.state_dir / "FAULT").read_text().strip()
    except FileNotFoundError:
        return None


def _install() -> None:
    real_commit = OutboxEngine.commit
    real_reopen = getattr(OutboxEngine, "reopen", None)  # absent before the writer could be restarted

    def commit(self: OutboxEngine, accepts: Any, deletes: Any) -> Any:
        fault = _fault(self)
        if fault == "raise":
            raise RuntimeError("injected fault: the writer thread meets a bug")
        while fault == "hang":
            time.sleep(0.05)
            fault = _fault(self)
        return real_commit(self, accepts, deletes)

    def reopen(self: OutboxEngine, reason: str) -> None:
        if _fault(self) == "raise":
            raise RuntimeError("injected fault: the restart meets the same bug")
        assert real_reopen is not None
        real_reopen(self, reason)

    OutboxEngine.commit = commit  # type: ignore[method-assign]
    if real_reopen is not None:
        OutboxEngine.reopen = reopen  # type: ignore[method-assign]


def fault_file(state_dir: Path) -> Path:
    return state_dir / "FAULT"


if __name__ == "__main__":
    _install()
    sys.exit(main(sys.argv[1:]))
