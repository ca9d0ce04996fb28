"""Shared helpers for outbox unit tests: real SQLite files in tmp dirs, a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.outbox.codec import encode
from agent.outbox.config import OutboxConfig
from agent.outbox.engine import OutboxEngine
from agent.records import Record


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_engine(tmp_path: Path, clock: FakeClock) -> Iterator[object]:
    engines: list[OutboxEngine] = []

    def make(**overrides: object) -> OutboxEngine:
        engine = OutboxEngine(tmp_path, OutboxConfig(**overrides), "gw1", clock=clock)  # type: ignore[arg-type]
        engine.open()
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def commit(engine: OutboxEngine, records: list[Record]) -> list[int]:
    result = engine.commit([[encode(r) for r in records]], []).accepts[0]
    assert isinstance(result, list), result
    return result


def all_rows(engine: OutboxEngine) -> list[tuple[int, int, str, float]]:
    assert engine.conn is not None
    return engine.conn.execute("SELECT seq, priority, device, ts FROM records ORDER BY seq").fetchall()
