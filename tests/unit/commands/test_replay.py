"""ReplayGuard: durable, bounded, prunes ids whose commands expired."""

from __future__ import annotations

from pathlib import Path

from agent.commands.replay import ReplayGuard


def test_remember_and_replay(tmp_path: Path) -> None:
    g = ReplayGuard(tmp_path / "ids.sqlite", window=100)
    assert g.remember("a", 200.0, now=100.0) is True
    assert g.remember("a", 200.0, now=101.0) is False
    g.close()


def test_window_bounds_the_table(tmp_path: Path) -> None:
    g = ReplayGuard(tmp_path / "ids.sqlite", window=100)
    for i in range(250):
        assert g.remember(f"id{i}", 10_000.0, now=float(i))
    assert g.count() == 100
    assert g.remember("id249", 10_000.0, now=300.0) is False  # newest still remembered
    g.close()


def test_expired_ids_pruned(tmp_path: Path) -> None:
    g = ReplayGuard(tmp_path / "ids.sqlite", window=100)
    g.remember("old", 150.0, now=100.0)
    g.remember("new", 1000.0, now=200.0)  # at 200 'old' has expired
    assert g.count() == 1
    g.close()
