"""The daemon serves Prometheus metrics on loopback when configured, built from live status."""

from __future__ import annotations

import urllib.request

import pytest

from tests.fixtures.mosquitto import free_port
from tests.integration.agent.conftest import Pole, seqs_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware]


def test_prometheus_endpoint_reports_readings_and_outbox(pole: Pole) -> None:
    port = free_port()
    pole.config.write_text(pole.config.read_text() + f"metrics: {{prometheus_port: {port}}}\n")
    with pole.broker.collector("edgepost/#") as sub:
        pole.start_agent()
        wait_until(lambda: len(seqs_of(sub)) >= 10, what="records upstream")
        pole.wait_log("metrics_listening")
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert pole.stop_agent() == 0
    lines = [line for line in body.splitlines() if line and not line.startswith("#")]
    names = {line.split("{")[0].split(" ")[0] for line in lines}
    assert any("outbox" in n for n in names), names
    assert any("uplink" in n for n in names), names
    received = [line for line in lines if line.startswith("edgepost_pipeline_received")]
    assert received and float(received[0].rsplit(" ", 1)[1]) >= 10
