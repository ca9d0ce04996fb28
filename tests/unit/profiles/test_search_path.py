"""The profile search path: site directories before the shipped profiles, first id wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.modbus import profiles
from drivers.modbus.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry, profile_search_path
from tests.unit.profiles.profile_tree import write

OWN = "vendor: Acme\nmodel: M\nsource: x\npoints: {v: {table: input, address: 0}}\n"


@pytest.fixture
def etc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``/etc/edgepost/profiles`` stands here; the environment variable is unset."""
    site = tmp_path / "etc-edgepost-profiles"
    monkeypatch.setattr(profiles, "SITE_PROFILE_DIR", site)
    monkeypatch.delenv(profiles.PROFILE_DIR_ENV, raising=False)
    return site


def test_order_is_environment_then_site_then_shipped(etc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert profile_search_path() == [etc, DEFAULT_PROFILE_DIR]
    monkeypatch.setenv(profiles.PROFILE_DIR_ENV, "/a::/b")
    assert profile_search_path() == [Path("/a"), Path("/b"), etc, DEFAULT_PROFILE_DIR]
    assert profile_search_path([Path("/cfg")]) == [Path("/a"), Path("/b"), Path("/cfg"), DEFAULT_PROFILE_DIR]


def test_the_default_site_dir_may_be_missing(etc: Path) -> None:
    registry = ProfileRegistry.load()
    assert registry.errors == []
    assert "eastron/sdm120" in registry.ids()
    assert registry.searched() == f"{etc} (missing), {DEFAULT_PROFILE_DIR}"


def test_a_configured_dir_that_is_missing_is_named(etc: Path, tmp_path: Path) -> None:
    registry = ProfileRegistry.load(site_dirs=[tmp_path / "typo"])
    assert registry.problems[""] == [f"{tmp_path / 'typo'}: profile directory does not exist"]
    assert "eastron/sdm120" in registry.ids()  # the rest still loads


def test_the_default_site_dir_overrides_a_shipped_id(etc: Path) -> None:
    own = write(etc, "eastron/sdm120", OWN.replace("Acme", "Eastron").replace("model: M", "model: SDM120"))
    registry = ProfileRegistry.load()
    assert list(registry.get("eastron/sdm120").points) == ["v"]
    assert registry.origin("eastron/sdm120") == own
    assert registry.shadowed["eastron/sdm120"] == [DEFAULT_PROFILE_DIR / "eastron" / "sdm120.yaml"]
    assert registry.origin("keller/series30") == DEFAULT_PROFILE_DIR / "keller" / "series30.yaml"


def test_a_broken_site_override_is_reported_not_replaced_by_the_shipped_one(etc: Path) -> None:
    write(etc, "eastron/sdm120", "vendor: Eastron\nmodel: [unclosed\n")
    registry = ProfileRegistry.load()
    assert "eastron/sdm120" not in registry.ids()
    assert registry.problems["eastron/sdm120"][0].startswith(f"{etc}/eastron/sdm120.yaml:")


def test_a_site_variant_extends_a_shipped_profile(etc: Path) -> None:
    write(etc, "acme/tilt", "extends: witmotion/wt901c-485\nvendor: Acme\npoints: {roll: {period: 0.5}}\n")
    tilt = ProfileRegistry.load(strict=True).get("acme/tilt")
    assert tilt.points["roll"].period == 0.5 and "pitch" in tilt.points


def test_the_cache_sees_a_new_site_profile(etc: Path) -> None:
    ProfileRegistry.clear_cache()
    assert "acme/m" not in ProfileRegistry.load_cached().ids()
    write(etc, "acme/m", OWN)
    assert "acme/m" in ProfileRegistry.load_cached().ids()
    ProfileRegistry.clear_cache()
