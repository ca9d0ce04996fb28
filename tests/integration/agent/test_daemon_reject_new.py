"""The real daemon with `full_policy: reject-new`, a full outbox and the broker down.

Telemetry must be refused (counted), while alarms still get in through the reserve; once the broker is
back the alarms arrive and gap events (reason ``rejected``) account for every refused reading. Today the
pipeline retries the refused batch forever: the queue fills, the drivers block and no alarm gets in.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from agent.outbox.config import Durability, FullPolicy, OutboxConfig
from agent.outbox.store import Outbox
from tests.integration.agent.conftest import ROOT, Pole, records_of, wait_until
from tests.integration.outbox.test_reject_new import fill_with_telemetry

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow, pytest.mark.timeout(300)]

OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE, max_bytes=1 << 20, full_policy=FullPolicy.REJECT_NEW)


async def _prefill(state: Path) -> int:
    outbox = await Outbox.open(state, OUTBOX, "it-pole")
    try:
        return await fill_with_telemetry(outbox)
    finally:
        await outbox.close()


def _stored_alarms(state: Path) -> int:
    conn = sqlite3.connect(f"file:{state / 'outbox.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM records WHERE priority = 0").fetchone()[0])
    finally:
        conn.close()


def _status(pole: Pole) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "-c", str(pole.config), "--json", "status"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    status: dict[str, object] = orjson.loads(done.stdout)
    return status


def _refused_by_agent(pole: Pole) -> int:
    return int(_status(pole)["status"]["pipeline"]["outbox_full"])  # type: ignore[index]


def test_full_outbox_refuses_telemetry_alarms_still_arrive_and_a_gap_accounts_for_it(pole: Pole) -> None:
    text = pole.config.read_text()
    text = text.replace("outbox: {durability: process-safe}",
                        "outbox: {durability: process-safe, max_bytes: 1048576, full_policy: reject-new}")
    manhole = "points: {roll: {period: 0.2}, pitch: {period: 0.2}}}"
    assert manhole in text
    text = text.replace(manhole,  # a tilt alarm that trips and clears every few polls
                        manhole[:-1] + ", alarms: {cover_tilt_roll: {above: 0.5, hysteresis: 0}}}")
    text = text.replace(f"uplink: {{host: 127.0.0.1, port: {pole.broker.port}}}",
                        f"uplink: {{host: 127.0.0.1, port: {pole.broker.port}, reconnect_max_s: 2}}")
    pole.config.write_text(text)
    refused_before_start = asyncio.run(_prefill(pole.state))

    with pole.broker.collector("edgepost/#", persistent=True) as sub:
        pole.broker.stop()  # outage: nothing drains, the outbox stays full
        pole.start_agent()
        pole.wait_log("event=agent_ready", timeout=60)
        wait_until(lambda: _stored_alarms(pole.state) >= 3, timeout=60, what="alarms stored in the full outbox")
        status = _status(pole)
        pipeline = status["status"]["pipeline"]  # type: ignore[index]
        assert pipeline["outbox_full"] > 0  # type: ignore[index]
        assert pipeline["queued"] < 10_000  # type: ignore[index]  # not stuck at the queue's bound
        assert "event=outbox_full_rejecting" in pole.log()

        pole.broker.start()
        wait_until(lambda: sum(1 for r in records_of(sub) if r.get("ev") == "alarm") >= 3, timeout=90,
                   what="alarms upstream")

        def rejected_upstream() -> int:
            return sum(int(r["data"]["count"]) for r in records_of(sub)  # type: ignore[index,call-overload]
                       if r.get("ev") == "gap" and r["data"]["reason"] == "rejected")  # type: ignore[index]

        # the drain frees room, refusals end, and the gap events add up to every refused record
        wait_until(lambda: rejected_upstream() > refused_before_start, timeout=90, what="a rejected-gap event")
        wait_until(lambda: rejected_upstream() == refused_before_start + _refused_by_agent(pole), timeout=60,
                   what="gap counts equal to the refusals")
        assert pole.stop_agent(signal.SIGTERM) == 0
