"""``edgepost buffer stats|export`` and ``diagnose`` with no daemon only read: they create nothing, not
the state dir, not ``outbox.db``, not its ``-wal``/``-shm``, not the reserve file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import orjson
import pytest

from agent.config import load_config
from agent.outbox.store import Outbox
from agent.records import Reading
from tests.fixtures.edgepost_cli import edgepost


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(
        f"gateway: {{id: pole-ro}}\nstate_dir: {tmp_path / 'state'}\noutbox: {{durability: process-safe}}\n"
    )
    return path


def fill(config: Path, count: int) -> None:
    """What a daemon leaves after a clean stop: a real outbox written and closed."""
    loaded = load_config(config)

    async def run() -> None:
        outbox = await Outbox.open(loaded.state_dir, loaded.outbox, loaded.gateway.id)
        await outbox.accept([Reading("meter1", "voltage", 230.0 + i, 1_700_000_000.0 + i, unit="V")
                             for i in range(count)])
        await outbox.close()

    loaded.state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run())


def snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode) for p in directory.iterdir()}


def test_stats_without_an_outbox_says_so_and_creates_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = edgepost("buffer", "stats", "-c", str(config))
    assert done.returncode == 1
    assert f"no outbox at {tmp_path / 'state' / 'outbox.db'}" in done.stderr
    assert not (tmp_path / "state").exists()
    done = edgepost("diagnose", "-c", str(config), "-o", str(tmp_path / "bundle.tar.gz"))
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "state").exists()


def test_stats_and_export_of_a_stopped_daemons_outbox_touch_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    fill(config, 7)
    state = tmp_path / "state"
    before = snapshot(state)
    assert "outbox.db-wal" not in before  # a clean close checkpoints and removes it
    done = edgepost("buffer", "stats", "-c", str(config), "--json")
    assert done.returncode == 0, done.stderr
    stats = orjson.loads(done.stdout)
    assert stats["records"] == 7 and stats["last_seq"] >= 7 and stats["by_priority"]["telemetry"] == 7
    assert stats["oldest_ts"] == 1_700_000_000.0 and stats["bytes_on_disk"] > 0
    exported = edgepost("buffer", "export", "-c", str(config), "--format", "jsonl")
    assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 7
    assert edgepost("diagnose", "-c", str(config), "-o", str(tmp_path / "b.tar.gz")).returncode == 0
    assert snapshot(state) == before
    plain = edgepost("buffer", "stats", "-c", str(config))
    assert plain.returncode == 0 and "no daemon running" in plain.stdout


def test_stats_read_a_wal_left_by_a_writer_without_creating_files(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    fill(config, 3)
    db = tmp_path / "state" / "outbox.db"
    writer = sqlite3.connect(db)  # stands for a daemon holding the file: its last commit is in the WAL only
    try:
        writer.execute("INSERT INTO records (seq, priority, kind, device, ts, accepted_at, body) "
                       "VALUES (1000, 2, 0, 'meter1', 1.7e9, 1.7e9, '[\"voltage\", 1.0, \"V\", \"good\"]')")
        writer.commit()
        before = snapshot(db.parent)
        assert {"outbox.db-wal", "outbox.db-shm"} <= set(before)
        done = edgepost("buffer", "stats", "-c", str(config), "--json")
        assert done.returncode == 0, done.stderr
        assert orjson.loads(done.stdout)["records"] == 4
        assert set(snapshot(db.parent)) == set(before)
    finally:
        writer.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to show a file created by root")
def test_stats_as_root_leaves_no_root_owned_file(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    fill(config, 1)
    state = tmp_path / "state"
    os.chown(state, 65534, 65534)  # the daemon's own dir (nobody stands in for the edgepost user)
    for path in state.iterdir():
        os.chown(path, 65534, 65534)
    assert edgepost("buffer", "stats", "-c", str(config)).returncode == 0
    assert {p.name: p.stat().st_uid for p in state.iterdir()} == {p.name: 65534 for p in state.iterdir()}
