"""The real daemon under real signals: SIGTERM loses nothing, SIGHUP with a broken config keeps the old one."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from tests.integration.agent.conftest import Pole, records_of, seqs_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]


async def _outbox_state(pole: Pole) -> tuple[int, int]:
    outbox = await Outbox.open(pole.state, OutboxConfig(), "it-pole")
    try:
        stats = await outbox.stats()
        return outbox.last_seq, stats.records
    finally:
        await outbox.close()


def test_sigterm_during_an_outage_loses_nothing(pole: Pole) -> None:
    with pole.broker.collector("edgepost/#", persistent=True) as sub:
        pole.start_agent()
        wait_until(lambda: len(seqs_of(sub)) >= 20, what="live records upstream")
        pole.broker.stop()  # outage: the agent keeps accepting into the outbox
        pole.wait_log("uplink_down")
        time.sleep(2.0)
        assert pole.stop_agent(signal.SIGTERM) == 0
        assert "event=pipeline_drained committed=True" in pole.log()

        last_seq, buffered = asyncio.run(_outbox_state(pole))
        assert buffered > 0, "the outage should have left a backlog"

        pole.broker.start()
        pole.start_agent()
        wait_until(lambda: seqs_of(sub) >= set(range(1, last_seq + 1)), timeout=40, what="backlog drained")
        assert pole.stop_agent() == 0
    records = records_of(sub)
    hist = [r for r in records if int(r["seq"]) <= last_seq]  # type: ignore[call-overload]
    assert hist, "the backlog reached the broker"
    # per device, the telemetry seq order upstream follows the order it was read in
    by_dev: dict[str, list[float]] = {}
    for rec in sorted((r for r in records if "pt" in r), key=lambda r: int(r["seq"])):  # type: ignore[call-overload]
        by_dev.setdefault(str(rec["dev"]), []).append(float(rec["ts"]))  # type: ignore[arg-type]
    for dev, stamps in by_dev.items():
        assert stamps == sorted(stamps), f"{dev}: seq order differs from read order"


def test_sighup_with_a_broken_config_keeps_the_running_one(pole: Pole) -> None:
    with pole.broker.collector("edgepost/#") as sub:
        pole.start_agent()
        wait_until(lambda: len(seqs_of(sub)) >= 5, what="records upstream")
        good = pole.config.read_text()
        pole.config.write_text(good.replace("unit_id: 3,", "unit_id: 300,"))
        assert pole.proc is not None
        pole.proc.send_signal(signal.SIGHUP)
        pole.wait_log("config_reload_refused")
        assert "unit_id: must be 1..247, got 300" in pole.log()
        before = max(seqs_of(sub))
        wait_until(lambda: max(seqs_of(sub)) > before + 5, what="data still flowing after the refused reload")
        assert pole.proc.poll() is None

        # a valid change (drop the tilt sensor) is applied without a restart
        births = len([m for m in sub.snapshot() if m.topic.endswith("/birth")])
        pole.write_config(devices=["meter"])
        pole.proc.send_signal(signal.SIGHUP)
        pole.wait_log("config_reloaded")
        wait_until(lambda: len([m for m in sub.snapshot() if m.topic.endswith("/birth")]) > births,
                   what="a new birth after reload")
        last_birth = [m for m in sub.snapshot() if m.topic.endswith("/birth")][-1]
        assert b"manhole" not in last_birth.payload and b"meter" in last_birth.payload
        assert pole.stop_agent() == 0


def test_invalid_config_refuses_to_start_with_file_and_line(pole: Pole) -> None:
    pole.config.write_text(pole.config.read_text().replace("unit_id: 1,", "unit_id: 0,"))
    proc = pole.start_agent()
    assert proc.wait(30) == 2
    pole.proc = None
    assert f"{pole.config}:" in pole.log()
    assert "drivers[0].devices[0].unit_id: must be 1..247, got 0" in pole.log()
