"""A small reconnect storm (the bench's code, 20 gateways): after a mosquitto restart every gateway
reconnects within its jitter window and every record, old and accepted during the outage, arrives."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.bench_reconnect_storm import storm

pytestmark = [pytest.mark.network, pytest.mark.slow]


async def test_every_record_arrives_after_a_broker_restart(tmp_path: Path) -> None:
    args = argparse.Namespace(gateways=20, records=5, window=1.0, down_s=0.5, broker="mosquitto")
    result = await storm(args, True, tmp_path)
    assert result["lost"] == 0
    assert result["connects"] >= 20
