"""The profile registry cache: one parse per profile tree while its files do not change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.modbus import profiles
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.profiles import PROFILE_DIR_ENV, ProfileRegistry

TILT = """\
vendor: Acme
model: Tilt 1
source: https://example.invalid/tilt
points:
  roll: {table: holding, address: 0x3D, type: int16, unit: deg}
"""


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[Path]]]:
    """A profile tree, and the roots ``_load_tree`` was asked to parse."""
    root = tmp_path / "profiles"
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "tilt.yaml").write_text(TILT)
    parsed: list[Path] = []
    real = profiles._load_tree

    def counting(path: Path) -> tuple[dict[str, profiles.Profile], dict[str, list[str]]]:
        parsed.append(path)
        return real(path)

    monkeypatch.setattr(profiles, "_load_tree", counting)
    ProfileRegistry.clear_cache()
    yield root, parsed
    ProfileRegistry.clear_cache()


def test_same_directory_is_parsed_once_however_it_is_spelled(tree: tuple[Path, list[Path]]) -> None:
    root, parsed = tree
    first = ProfileRegistry.load_cached(root)
    assert first.ids() == ["acme/tilt"]
    assert ProfileRegistry.load_cached(root / "acme" / "..") is first
    assert len(parsed) == 1


def test_an_edited_profile_is_picked_up(tree: tuple[Path, list[Path]]) -> None:
    root, parsed = tree
    first = ProfileRegistry.load_cached(root)
    (root / "acme" / "tilt.yaml").write_text(TILT + "  pitch: {table: holding, address: 0x3E, type: int16}\n")
    second = ProfileRegistry.load_cached(root)
    assert second is not first and set(second.get("acme/tilt").points) == {"roll", "pitch"}
    (root / "acme" / "tilt2.yaml").write_text(TILT)
    assert ProfileRegistry.load_cached(root).ids() == ["acme/tilt", "acme/tilt2"]
    assert len(parsed) == 3


def test_load_and_clear_cache_bypass_it(tree: tuple[Path, list[Path]]) -> None:
    root, parsed = tree
    cached = ProfileRegistry.load_cached(root)
    assert ProfileRegistry.load(root) is not cached  # an explicit load always parses
    ProfileRegistry.clear_cache()
    assert ProfileRegistry.load_cached(root) is not cached
    assert len(parsed) == 3


def test_driver_config_check_reuses_the_parsed_tree(
    tree: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, parsed = tree
    monkeypatch.setenv(PROFILE_DIR_ENV, str(root))
    config = ModbusDriverConfig.model_validate(
        {
            "driver": "modbus",
            "name": "mb",
            "buses": [{"transport": "serial", "name": "rs1", "port": "/dev/null"}],
            "devices": [{"name": "cover", "bus": "rs1", "unit_id": 3, "profile": "acme/tilt"}],
        }
    )
    for _ in range(3):  # validate, start, reload
        assert ModbusDriver.check_config(config) == []
    assert len(parsed) == 1
