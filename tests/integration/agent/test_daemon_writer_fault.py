"""The real daemon with a broken outbox writer: systemd's watchdog must stop being fed.

`edgepost run` runs under tests/integration/agent/fault_harness.py (the real CLI with a fault seam in
the outbox engine), with simulated devices on a socat pty, a real mosquitto, and a datagram socket
standing in for systemd's NOTIFY_SOCKET. Today the writer thread dies (or hangs) silently: accepts
wait forever, and WATCHDOG=1 keeps coming, so systemd never restarts the hung agent.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.fixtures.notify import NotifyListener
from tests.integration.agent.conftest import Pole, records_of, seqs_of, wait_until
from tests.integration.agent.fault_harness import fault_file

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow, pytest.mark.timeout(300)]

HARNESS = "tests.integration.agent.fault_harness"


def _start(pole: Pole, notify: NotifyListener) -> None:
    pole.start_agent(env=notify.env(watchdog_s=30), module=HARNESS)
    assert notify.wait_for("READY=1", timeout=60), pole.log()[-3000:]
    assert notify.wait_for("WATCHDOG=1", after=2, timeout=30), "the healthy agent feeds the watchdog"


def test_a_dead_writer_withholds_the_watchdog_until_the_supervisor_restarts_it(pole: Pole) -> None:
    with NotifyListener() as notify, pole.broker.collector("edgepost/#") as sub:
        _start(pole, notify)
        wait_until(lambda: len(seqs_of(sub)) >= 10, what="records upstream")

        fault = fault_file(pole.state)
        fault.write_text("raise")  # the writer thread dies, and restarting it fails too while this stays
        pole.wait_log("event=outbox_writer_died")
        pings = notify.count("WATCHDOG=1")
        # accepts fail at once (they do not hang), and the supervisor keeps trying to restart the writer
        pole.wait_log("writer thread died")
        wait_until(lambda: pole.log().count("event=task_restart_scheduled task=outbox") >= 3, timeout=60,
                   what="three restart attempts")
        assert notify.count("WATCHDOG=1") <= pings + 1, "WATCHDOG=1 sent while the writer was dead"
        assert pole.proc is not None and pole.proc.poll() is None

        fault.unlink()  # the next restart succeeds
        pole.wait_log("event=outbox_writer_restarted", timeout=90)
        assert notify.wait_for("WATCHDOG=1", after=pings + 2, timeout=30), "the watchdog is fed again"
        latest = max(seqs_of(sub))
        wait_until(lambda: max(seqs_of(sub)) > latest + 10, timeout=60, what="records flowing again")
        wait_until(lambda: any(r.get("ev") == "outbox_writer_restarted" for r in records_of(sub)),
                   what="the restart alarm upstream")
        assert pole.stop_agent(signal.SIGTERM) == 0
    assert "event=pipeline_drained committed=True" in pole.log()


def test_a_hung_writer_withholds_the_watchdog(pole: Pole) -> None:
    pole.config.write_text(pole.config.read_text().replace(
        "outbox: {durability: process-safe}", "outbox: {durability: process-safe, accept_stall_s: 2}"))
    with NotifyListener() as notify:
        _start(pole, notify)
        fault = fault_file(pole.state)
        fault.write_text("hang")  # the next commit blocks, as in a stuck fsync
        pole.wait_log("event=watchdog_withheld", timeout=60)
        pings = notify.count("WATCHDOG=1")
        time.sleep(3)  # a window of six 0.5 s health ticks in which no WATCHDOG=1 may arrive
        assert notify.count("WATCHDOG=1") <= pings + 1, "WATCHDOG=1 sent while an accept was stuck"
        assert "outbox writer stalled" in pole.log()

        fault.unlink()
        assert notify.wait_for("WATCHDOG=1", after=pings + 2, timeout=30), "the watchdog is fed again"
        assert pole.stop_agent(signal.SIGTERM) == 0
