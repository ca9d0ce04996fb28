"""ReplayGuard: durable, bounded, prunes ids whose commands expired, keeps answers until queued."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.commands.replay import Prior, ReplayGuard


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


def test_answer_is_kept_with_its_id_until_queued(tmp_path: Path) -> None:
    g = ReplayGuard(tmp_path / "ids.sqlite", window=100)
    assert g.claim("a", 200.0, now=100.0) is None
    prior = g.claim("a", 200.0, now=101.0)
    assert prior is not None and prior.answer is None  # seen, never answered
    g.store_answer("a", 200.0, 102.0, b'{"id":"a"}')
    assert g.claim("a", 200.0, now=103.0) == Prior(b'{"id":"a"}')
    assert g.unqueued() == [("a", b'{"id":"a"}')]
    g.mark_queued("a", b'{"id":"other"}')  # not the stored answer: stays unqueued
    assert g.unqueued() == [("a", b'{"id":"a"}')]
    g.mark_queued("a", b'{"id":"a"}')
    assert g.unqueued() == []
    g.close()


def test_an_unqueued_answer_outlives_its_expiry(tmp_path: Path) -> None:
    g = ReplayGuard(tmp_path / "ids.sqlite", window=100)
    g.store_answer("old", 150.0, 100.0, b"{}")
    g.claim("new", 1000.0, now=200.0)  # 'old' expired but its answer never reached the outbox
    assert g.unqueued() == [("old", b"{}")]
    g.mark_queued("old", b"{}")
    g.claim("newer", 1000.0, now=201.0)
    assert g.count() == 2
    g.close()


def test_a_store_from_an_older_agent_gains_the_answer_columns(tmp_path: Path) -> None:
    path = tmp_path / "ids.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE command_ids (id TEXT PRIMARY KEY, expires_at REAL NOT NULL, seen_at REAL NOT NULL);"
                     "INSERT INTO command_ids VALUES ('legacy', 500.0, 100.0);")
    db.close()
    g = ReplayGuard(path, window=100)
    assert g.claim("legacy", 500.0, now=110.0) == Prior(None)
    assert g.unqueued() == []
    g.close()
