"""Write small profile trees for the tests: ``firmware_profiles/<vendor>/<file>.yaml``."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write(root: Path, profile_id: str, text: str) -> Path:
    path = root / f"{profile_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path
