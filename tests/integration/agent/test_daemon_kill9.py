"""`kill -9` the real daemon while it commits and while it drains: no accepted record is lost.

Every accepted record has a seq, seqs are contiguous (the high-water mark commits with the rows), and
the upstream copy is keyed by seq: after the last restart has drained everything, the seqs seen
upstream must be exactly 1..max with no hole, and any duplicate must be the same record again.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.integration.agent.conftest import Pole, records_of, seqs_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]


def test_kill9_while_committing_and_while_draining_loses_no_accepted_record(pole: Pole) -> None:
    with pole.broker.collector("edgepost/#", persistent=True) as sub:
        pole.start_agent()
        wait_until(lambda: len(seqs_of(sub)) >= 10, what="first records upstream")

        pole.broker.stop()  # build a backlog, then kill while the pipeline is committing
        time.sleep(3.0)
        assert pole.stop_agent(signal.SIGKILL) == -signal.SIGKILL

        pole.broker.start()
        pole.start_agent()  # drains the backlog; kill it in the middle
        wait_until(lambda: any(m.topic.endswith("/telemetry") for m in sub.snapshot()[-5:]), what="drain")
        assert pole.stop_agent(signal.SIGKILL) == -signal.SIGKILL

        # the log is appended across restarts: wait for this start's own ready line, so SIGTERM
        # never arrives before the daemon installed its handler
        readies = pole.log().count("event=agent_ready")
        pole.start_agent()
        wait_until(lambda: pole.log().count("event=agent_ready") > readies, what="the third start to finish")
        time.sleep(2.0)
        assert pole.stop_agent(signal.SIGTERM) == 0  # a clean stop drains nothing more; restart to finish
        readies = pole.log().count("event=agent_ready")
        pole.start_agent()

        def drained() -> bool:
            seen = seqs_of(sub)
            return bool(seen) and seen == set(range(1, max(seen) + 1))

        wait_until(drained, timeout=40, what="every seq 1..max upstream")
        wait_until(lambda: pole.log().count("event=agent_ready") > readies, what="the last start to finish")
        assert pole.stop_agent() == 0

    records = records_of(sub)
    by_seq: dict[int, dict[str, object]] = {}
    for rec in records:
        seq = int(rec["seq"])  # type: ignore[call-overload]
        if seq in by_seq:  # at-least-once across a crash: a duplicate is the same record again
            assert by_seq[seq] == rec
        by_seq[seq] = rec
    assert len(by_seq) == max(by_seq)
