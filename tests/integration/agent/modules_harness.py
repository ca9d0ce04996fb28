"""``edgepost`` that writes the names of the modules it imported to ``$EDGEPOST_MODULES_OUT`` as it exits
(never shipped).

Run as ``python -m tests.integration.agent.modules_harness --config FILE run``: the real CLI and daemon;
the harness itself imports nothing of theirs before ``main`` runs.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path


def _dump() -> None:
    Path(os.environ["EDGEPOST_MODULES_OUT"]).write_text("\n".join(sorted(sys.modules)) + "\n")


if __name__ == "__main__":
    atexit.register(_dump)
    from agent.cli.main import main

    sys.exit(main(sys.argv[1:]))
