"""``edgepost buffer stats|export|purge`` with no daemon, on a real SQLite outbox in a temp dir."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import orjson
import pytest

from agent.cli.main import main
from agent.config import load_config
from agent.outbox.store import Outbox
from agent.records import Event, Reading


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"gateway: {{id: pole-b}}\nstate_dir: {tmp_path / 'state'}\noutbox: {{durability: process-safe}}\n")
    loaded = load_config(path)

    async def fill() -> None:
        outbox = await Outbox.open(loaded.state_dir, loaded.outbox, loaded.gateway.id)
        records = [Reading("meter1", "voltage", 230.0 + i, 1_700_000_000.0 + i, unit="V") for i in range(5)]
        records += [Reading("probe2", "ph", 7.1, 1_700_000_010.0), Event("meter1", "device_state", 1_700_000_011.0,
                                                                          data={"state": "offline"})]
        await outbox.accept(records)
        await outbox.close()

    loaded.state_dir.mkdir(parents=True)
    asyncio.run(fill())
    return path


def test_stats_without_daemon(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(config), "--json", "buffer", "stats"]) == 0
    stats = orjson.loads(capsys.readouterr().out)
    assert stats["records"] == 7 and stats["last_seq"] >= 7


def test_export_csv_and_jsonl(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export.csv"
    assert main(["-c", str(config), "buffer", "export", "-o", str(out)]) == 0
    assert "exported 7 record(s)" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 7
    assert rows[0]["device"] == "meter1" and rows[0]["point"] == "voltage" and float(rows[0]["value"]) == 230.0
    event = next(r for r in rows if r["kind"] == "event")
    assert event["event"] == "device_state" and orjson.loads(event["data"]) == {"state": "offline"}

    assert main(["-c", str(config), "buffer", "export", "--format", "jsonl", "--device", "probe2"]) == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1 and lines[0]["device"] == "probe2" and lines[0]["body"]["value"] == 7.1

    assert main(["-c", str(config), "buffer", "export", "--format", "jsonl", "--until", "1700000002"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["-c", str(config), "buffer", "export", "--format", "xml"]) == 2


def test_purge_without_daemon_reports_a_gap(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(config), "--json", "buffer", "purge", "--device", "meter1", "--yes"]) == 0
    assert orjson.loads(capsys.readouterr().out) == {"purged": 6}
    assert main(["-c", str(config), "buffer", "export", "--format", "jsonl"]) == 0
    remaining = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["device"] for r in remaining if r["kind"] == "reading"} == {"probe2"}
    gaps = [r for r in remaining if r["kind"] == "event" and r["body"]["kind"] == "gap"]
    assert gaps and gaps[0]["body"]["data"]["reason"] == "purged"
