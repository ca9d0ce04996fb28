"""The writer thread dies of a bug: accepts fail at once, the supervisor restarts it, nothing is lost.

A real outbox file, the real pipeline and the real supervisor; the bug is an unexpected exception
raised on the writer thread from the engine's commit (``RuntimeError``: not one of the errors the
writer expects). The daemon-level check (watchdog withheld, via a fake NOTIFY_SOCKET) lives in
tests/integration/agent/test_daemon_writer_fault.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.errors import OutboxError
from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.pipeline.pipeline import Pipeline
from agent.records import Priority, Reading
from agent.supervisor import Supervisor

# the injected exception is meant to escape the writer thread (threading.excepthook prints it)
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def _inject_writer_bug(outbox: Outbox) -> threading.Event:
    """While the returned event is set, the engine's commit raises on the writer thread."""
    engine = outbox._engine
    real_commit = engine.commit
    fault = threading.Event()
    fault.set()

    def commit(accepts: Any, deletes: Any) -> Any:
        if fault.is_set():
            raise RuntimeError("injected: a bug in the writer")
        return real_commit(accepts, deletes)

    engine.commit = commit  # type: ignore[method-assign]
    return fault


async def test_accepts_fail_fast_after_the_writer_died(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    try:
        await outbox.accept([Reading("m1", "v", 1.0, time.time())])
        _inject_writer_bug(outbox)
        # today: the accept that met the bug waits forever, and so does every later one
        with pytest.raises(OutboxError):
            await asyncio.wait_for(outbox.accept([Reading("m1", "v", 2.0, time.time())]), 20)
        with pytest.raises(OutboxError, match="writer thread died"):
            await asyncio.wait_for(outbox.accept([Reading("m1", "v", 3.0, time.time())]), 20)
        with pytest.raises(OutboxError, match="writer thread died"):
            await asyncio.wait_for(outbox.delete([1]), 20)
        assert "writer died" in str(outbox.health())
    finally:
        await asyncio.wait_for(outbox.close(), 20)


async def test_supervisor_restarts_the_writer_and_the_pipeline_loses_nothing(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    supervisor = Supervisor(base_backoff_s=0.1, max_backoff_s=0.5, seed=1)
    try:
        supervisor.start("outbox", outbox.keep_writing)
        pipeline = Pipeline(outbox, heartbeat_s=300, queue_size=1000, batch=7)
        supervisor.start("pipeline", pipeline.run)
        await pipeline.put(Reading("m1", "v", -1.0, time.time()))
        assert await pipeline.drain(20) is True
        pipeline._closed = False  # reopen intake (drain closed it) for the second round
        fault = _inject_writer_bug(outbox)
        for i in range(40):
            await pipeline.put(Reading("m1", "v", float(i), time.time()))
        for _ in range(400):  # the pipeline sees fast failures (not a hang) while the writer is down
            if pipeline.counters.accept_failures >= 2 and supervisor.states["outbox"].restarts >= 2:
                break
            await asyncio.sleep(0.05)
        assert pipeline.counters.accept_failures >= 2
        assert supervisor.states["outbox"].restarts >= 2  # restarted, died again on the retried batch
        assert outbox.health() is not None
        fault.clear()
        assert await pipeline.drain(30) is True  # everything the pipeline held is committed
        for _ in range(200):
            if outbox.health() is None:
                break
            await asyncio.sleep(0.05)
        assert outbox.health() is None
    finally:
        await supervisor.stop_all()
        await outbox.close()

    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    try:
        stored = [r async for r in outbox.export()]
    finally:
        await outbox.close()
    values = [r.body["value"] for r in stored if r.kind == "reading"]
    assert values == [-1.0, *map(float, range(40))]  # each once, in order: the batch in hand was kept
    alarms = [r for r in stored if r.priority is Priority.ALARM]
    assert alarms and {a.body["kind"] for a in alarms} == {"outbox_writer_restarted"}
    assert "injected: a bug in the writer" in orjson.dumps(alarms[0].body).decode()
