"""``name==version`` lines of what a ``pip install --dry-run --report`` would install (stdlib only)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

report = json.loads(Path(sys.argv[1]).read_text())
pins = sorted(f"{item['metadata']['name']}=={item['metadata']['version']}" for item in report["install"])
if not pins:
    raise SystemExit(f"{sys.argv[1]}: nothing to install")
print("\n".join(pins))
