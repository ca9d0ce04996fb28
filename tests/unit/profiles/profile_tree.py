"""Write small profile trees for the tests: ``firmware_profiles/<vendor>/<file>.yaml``."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write(root: Path, profile_id: str, text: str) -> Path:
    path = root / f"{profile_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def relative(lines: list[str], root: Path) -> list[str]:
    """Problem lines name a site file by its full path; the tests compare from the tree's own name."""
    return [line.replace(f"{root.parent}/", "") for line in lines]
