from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty profile directory named like the shipped one, so messages read firmware_profiles/..."""
    path = tmp_path / "firmware_profiles"
    path.mkdir()
    return path
