"""`kill -9` the real daemon while it commits and while it drains: no accepted record is lost.

Every accepted record has a seq, seqs are contiguous (the high-water mark commits with the rows) but
for the ranges a start after a kill skips and announces (``lost_in_ram`` gap events: seqs the killed
run had reserved for records held only in RAM), and the upstream copy is keyed by seq: after the
last restart has drained everything, the seqs seen upstream plus the announced ranges must be
exactly 1..max with no hole, no skipped seq may arrive, and any duplicate must be the same record again.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.fixtures.mosquitto import Collector
from tests.integration.agent.conftest import Pole, records_of, seqs_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]


def skipped_after_kills(collector: Collector) -> set[int]:
    """Seqs the lost_in_ram gap events upstream say a start skipped (outbox: seqs.py, unrecorded.py)."""
    out: set[int] = set()
    for record in records_of(collector):
        data = record.get("data")
        if record.get("ev") == "gap" and isinstance(data, dict) and data.get("reason") == "lost_in_ram":
            out.update(range(int(data["first_seq"]), int(data["last_seq"]) + 1))
    return out


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
            return bool(seen) and seen | skipped_after_kills(sub) >= set(range(1, max(seen) + 1))

        wait_until(drained, timeout=40, what="every seq 1..max upstream or announced as skipped")
        wait_until(lambda: pole.log().count("event=agent_ready") > readies, what="the last start to finish")
        assert pole.stop_agent() == 0

    records = records_of(sub)
    skipped = skipped_after_kills(sub)
    assert skipped  # each start after a kill skips the killed run's reservation
    by_seq: dict[int, dict[str, object]] = {}
    for rec in records:
        seq = int(rec["seq"])  # type: ignore[call-overload]
        if seq in by_seq:  # at-least-once across a crash: a duplicate is the same record again
            assert by_seq[seq] == rec
        by_seq[seq] = rec
    assert not skipped & set(by_seq), "a skipped seq was handed out"
    assert set(by_seq) == set(range(1, max(by_seq) + 1)) - skipped
