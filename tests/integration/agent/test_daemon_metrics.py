"""The daemon serves Prometheus metrics on loopback and writes the node-exporter textfile, built from live
status; both are read back with prometheus_client's own parser, as a scraper would."""

from __future__ import annotations

import socket
import stat
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.mosquitto import free_port
from tests.integration.agent.conftest import Pole, seqs_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_prometheus_endpoint_and_textfile_report_readings_and_outbox(pole: Pole) -> None:
    port = free_port()
    textfile = pole.workdir / "node" / "edgepost.prom"
    pole.config.write_text(
        pole.config.read_text() + f"metrics: {{prometheus_port: {port}, textfile: {textfile}, interval_s: 0.5}}\n"
    )
    with pole.broker.collector("edgepost/#") as sub:
        pole.start_agent()
        wait_until(lambda: len(seqs_of(sub)) >= 10, what="records upstream")
        pole.wait_log("metrics_listening")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            content_type = response.headers["Content-Type"]
            body = response.read().decode()
        wait_until(lambda: textfile.exists()
                   and samples(textfile.read_text()).get(("edgepost_pipeline_received", ()), 0) >= 10,
                   what="the textfile rewritten with the records")
        with pytest.raises(OSError), socket.create_connection(("127.0.0.2", port), timeout=5):
            pass  # bound to 127.0.0.1 alone, not to every address
        assert pole.stop_agent() == 0

    assert content_type.startswith("text/plain; version=0.0.4")
    scraped = samples(body)
    assert scraped[("edgepost_pipeline_received", ())] >= 10
    assert scraped[("edgepost_outbox_up", ())] == 1
    assert ("edgepost_uplink_connected", ()) in scraped
    devices = {dict(labels).get("device") for name, labels in scraped if name == "edgepost_drivers_devices_readings"}
    assert {"meter", "manhole"} <= devices
    assert scraped[("edgepost_process_resident_memory_bytes", ())] > 1 << 20

    written = samples(textfile.read_text())
    assert written[("edgepost_pipeline_received", ())] >= 10
    assert stat.S_IMODE(textfile.stat().st_mode) == 0o640
    assert [p.name for p in textfile.parent.iterdir()] == ["edgepost.prom"]  # no temp file left behind
