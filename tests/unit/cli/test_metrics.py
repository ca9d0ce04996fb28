"""Metrics from a status document: names, labels, exposition text, the 127.0.0.1 endpoint, the textfile."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from agent.config import MetricsConfig
from agent.metrics.collect import Sample, from_outbox, from_status
from agent.metrics.exposition import render
from agent.metrics.service import MetricsService
from agent.metrics.textfile import write_atomic
from agent.outbox.api import OutboxStats
from tests.unit.cli.fake_runtime import FakeRuntime

STATUS = {
    "drivers": {
        "rs485": {
            "buses": {"bus1": {"requests": 120, "timeouts": 3, "utilisation": 0.25}},
            "devices": {"meter1": {"state": "online", "readings": 40, "polls": 12}},
        },
        "cam": {"cameras": {"north": {"fps": 9.5, "dropped_frames": 2, "inference_fps": 4.0, "ok": True}}},
    },
    "uplink": {"state": "connected", "published_total": 77},
    "note": "text leaves other than state are not metrics",
}


def sample_map(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in samples}


def test_status_leaves_become_labelled_samples() -> None:
    got = sample_map(from_status(STATUS))
    assert got[("edgepost_drivers_buses_requests", (("bus", "bus1"), ("driver", "rs485")))] == 120
    assert got[("edgepost_drivers_buses_timeouts", (("bus", "bus1"), ("driver", "rs485")))] == 3
    assert got[("edgepost_drivers_devices_readings", (("device", "meter1"), ("driver", "rs485")))] == 40
    state_labels = (("device", "meter1"), ("driver", "rs485"), ("state", "online"))
    assert got[("edgepost_drivers_devices_state", state_labels)] == 1
    assert got[("edgepost_drivers_cameras_dropped_frames", (("camera", "north"), ("driver", "cam")))] == 2
    assert got[("edgepost_drivers_cameras_inference_fps", (("camera", "north"), ("driver", "cam")))] == 4.0
    assert got[("edgepost_drivers_cameras_ok", (("camera", "north"), ("driver", "cam")))] == 1.0
    assert got[("edgepost_uplink_state", (("state", "connected"),))] == 1
    assert not any(name.startswith("edgepost_note") for name, _ in got)


def test_line_counters_of_a_device_are_counters() -> None:
    status = {
        "drivers": {
            "rs485": {
                "devices": {"meter1": {"timeouts": 2, "line": {"timeouts": 5, "crc_errors": 1, "mismatched": 3}}},
            }
        }
    }
    got = sample_map(from_status(status))
    labels = (("device", "meter1"), ("driver", "rs485"))
    assert got[("edgepost_drivers_devices_line_timeouts_total", labels)] == 5
    assert got[("edgepost_drivers_devices_line_crc_errors_total", labels)] == 1
    assert got[("edgepost_drivers_devices_line_mismatched_total", labels)] == 3
    assert got[("edgepost_drivers_devices_timeouts", labels)] == 2  # outside ``line``: unchanged
    assert "# TYPE edgepost_drivers_devices_line_mismatched_total counter" in render(from_status(status))


def test_outbox_samples() -> None:
    stats = OutboxStats(5, {"alarm": 1, "telemetry": 4}, 900.0, 8192, 1 << 20, 2, 1, 99, "ENOSPC")
    got = sample_map(from_outbox(stats, now=1000.0))
    assert got[("edgepost_outbox_records", ())] == 5
    assert got[("edgepost_outbox_oldest_age_seconds", ())] == 100.0
    assert got[("edgepost_outbox_degraded", ())] == 1
    assert got[("edgepost_outbox_records_by_priority", (("priority", "alarm"),))] == 1
    assert got[("edgepost_outbox_evicted_total", ())] == 2
    assert sample_map(from_outbox(None)) == {("edgepost_outbox_up", ()): 0.0}


def parsed(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The exposition read back by prometheus_client's own parser (what a scraper would see)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_exposition_format() -> None:
    text = render([
        Sample("edgepost_x_total", 3.0),
        Sample("edgepost_y", 1.5, (("device", 'we"ird\\'),)),
        Sample("edgepost_y", 2.0, (("device", "a"),)),
    ])
    assert "# TYPE edgepost_x_total counter" in text and "# TYPE edgepost_y gauge" in text
    got = parsed(text)
    assert got[("edgepost_x_total", ())] == 3.0
    assert got[("edgepost_y", (("device", 'we"ird\\'),))] == 1.5
    assert got[("edgepost_y", (("device", "a"),))] == 2.0
    assert got[("edgepost_process_resident_memory_bytes", ())] > 0  # the process collector rides along
    status = parsed(render(from_status(STATUS)))
    assert status[("edgepost_drivers_devices_state", (("device", "meter1"), ("driver", "rs485"), ("state", "online")))]


def test_a_gauge_and_a_counter_of_one_family_name_both_survive() -> None:
    got = parsed(render([Sample("edgepost_polls", 4.0), Sample("edgepost_polls_total", 9.0)]))
    assert got[("edgepost_polls", ())] == 4.0 and got[("edgepost_polls_total", ())] == 9.0


def test_textfile_is_replaced_atomically(tmp_path: Path) -> None:
    target = tmp_path / "prom" / "edgepost.prom"
    write_atomic(target, "a 1\n")
    write_atomic(target, "a 2\n")
    assert target.read_text() == "a 2\n"
    assert [p.name for p in target.parent.iterdir()] == ["edgepost.prom"]  # no temp files left
    assert target.stat().st_mode & 0o777 == 0o640  # node-exporter reads it through the agent's group


async def test_http_endpoint_on_loopback_and_textfile(tmp_path: Path) -> None:
    textfile = tmp_path / "edgepost.prom"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = MetricsConfig(prometheus_port=port, textfile=textfile, interval_s=60)
    service = MetricsService(FakeRuntime(), config)  # type: ignore[arg-type]
    await service.start()
    assert service.http is not None
    loop_task = asyncio.create_task(service.textfile_loop())  # the daemon runs it under its supervisor
    try:
        sockname = service.http._server.sockets[0].getsockname()  # type: ignore[union-attr]
        assert sockname[0] == "127.0.0.1"
        reader, writer = await asyncio.open_connection("127.0.0.1", service.http.bound_port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        response = (await reader.read()).decode()
        writer.close()
        head, _, body = response.partition("\r\n\r\n")
        assert head.startswith("HTTP/1.0 200 OK") and "text/plain; version=0.0.4" in head
        assert parsed(body)[("edgepost_outbox_records", ())] == 12
        assert parsed(body)[("edgepost_uplink_state", (("state", "connected"),))] == 1
        reader, writer = await asyncio.open_connection("127.0.0.1", service.http.bound_port)
        writer.write(b"GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n")
        response = (await reader.read()).decode()
        writer.close()
        head, _, body = response.partition("\r\n\r\n")
        assert "application/openmetrics-text" in head and body.rstrip().endswith("# EOF")
        reader, writer = await asyncio.open_connection("127.0.0.1", service.http.bound_port)
        writer.write(b"GET /nope HTTP/1.0\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.0 404")
        writer.close()
        for _ in range(100):
            if textfile.exists():
                break
            await asyncio.sleep(0.05)
        assert parsed(textfile.read_text())[("edgepost_outbox_records", ())] == 12
    finally:
        loop_task.cancel()
        await service.stop()
