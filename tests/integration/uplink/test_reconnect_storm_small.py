"""A small reconnect storm (the bench's own code: bench/bench_reconnect_storm.py): 20 gateways in two
worker processes against a real mosquitto that restarts. Every gateway comes back, and every record,
those accepted before and during the outage, reaches a durable subscriber upstream (seqs checked per
gateway). The connect rate itself is a timing figure: the bench measures it, no test asserts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench_reconnect_storm import parse_args, storm

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.mark.parametrize("jitter", [True, False], ids=["jitter", "lockstep"])
async def test_every_record_arrives_after_a_broker_restart(tmp_path: Path, jitter: bool) -> None:
    # 20 gateways at 40 connects/s: a spread window of 20 / 23 = 0.9 s.
    args = parse_args(["--gateways", "20", "--workers", "2", "--rate", "40", "--records", "5", "--down-s", "0.5",
                       "--timeout", "60"])
    result = await storm(args, jitter, tmp_path)
    assert result["missing"] == 0
    assert result["connects_broker"] >= 20  # every gateway's reconnect, as the broker's log counts it
    assert result["connects_clients"] >= 20
