"""The real daemon with its serial port missing at start, plugged in later, unplugged and replugged.

The config names ``tmp/ttyUSB0``, a symlink the test creates to a socat pty (the simulator on the
other end) and removes again, killing socat, as a USB-RS485 adapter comes and goes. Readings go
through ``edgepost run`` to a real mosquitto; state is read with ``edgepost status --json``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import SequenceSpec, SimulatedDevice
from tests.fixtures.hotplug import HotplugAdapter
from tests.fixtures.mosquitto import Mosquitto
from tests.integration.agent.conftest import Pole, records_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]

CONFIG = """
gateway: {{id: it-pole, site: test}}
state_dir: {state}
drivers:
  - driver: modbus
    name: rs485
    offline_after: 2
    backoff_max_s: 1.0
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 38400, timeout_s: 0.3, retries: 0,
          reopen_min_s: {reopen_s}, reopen_max_s: {reopen_s}}}
    devices:
      - {{name: meter, bus: bus1, unit_id: 1, profile: eastron/sdm120, points: {{voltage: {{period: {period}}}}}}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
outbox: {{durability: process-safe}}
"""


@pytest.fixture
def unplugged(tmp_path: Path) -> Iterator[tuple[Pole, HotplugAdapter]]:
    link = tmp_path / "ttyUSB0"
    # alternating values: a constant one would stay inside the pipeline's deadband after the first
    voltage = SequenceSpec(values=[228.0, 232.0])
    meter = SimulatedDevice(1, ProfileRegistry.load().get("eastron/sdm120"), {"voltage": voltage})
    with Mosquitto(tmp_path) as broker, HotplugAdapter(link, [meter], baud=38400) as adapter:
        pole = Pole(tmp_path, broker, str(link), tmp_path / "config.yaml", tmp_path / "state")
        try:
            yield pole, adapter
        finally:
            if pole.proc is not None and pole.proc.poll() is None:
                pole.proc.kill()
                pole.proc.wait(10)


def write_config(pole: Pole, reopen_s: float = 0.3, period: float = 0.2) -> None:
    pole.write_config(text=CONFIG.format(state=pole.state, port=pole.agent_port, mqtt_port=pole.broker.port,
                                         reopen_s=reopen_s, period=period))


def edgepost(pole: Pole, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI a technician types, against the running daemon."""
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "--config", str(pole.config), *args],
        capture_output=True, text=True, timeout=60,
    )


def bus_status(pole: Pole) -> dict[str, Any] | None:
    done = edgepost(pole, "--json", "status")
    if done.returncode != 0:
        return None  # not answering yet
    status: dict[str, Any] = orjson.loads(done.stdout)["status"]
    return status["drivers"]["rs485"]["buses"]["bus1"]  # type: ignore[no-any-return]


def wait_bus(pole: Pole, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def ok() -> bool:
        status = bus_status(pole)
        if status is not None:
            seen.append(status)
        return status is not None and check(status)

    wait_until(ok, timeout=40, what=f"{what} (last status: {seen[-1:] })")
    return seen[-1]


def voltages(collector: Any, after_seq: int = 0) -> list[Any]:
    return [r["v"] for r in records_of(collector)
            if r.get("pt") == "voltage" and r.get("q") == "good" and int(r["seq"]) > after_seq]  # type: ignore[call-overload]


def bus_events(collector: Any) -> list[str]:
    return [str(r["data"]["state"]) for r in records_of(collector)  # type: ignore[index]
            if r.get("ev") == "bus_state" and r.get("dev") == "bus1"]


def logged_bus_states(pole: Pole) -> list[str]:
    return [m.strip('"') for m in re.findall(r"event=bus_state .*?state=(\"[^\"]*\"|\S+)", pole.log())]


def test_a_port_missing_at_start_is_opened_when_plugged_and_again_after_a_replug(
    unplugged: tuple[Pole, HotplugAdapter],
) -> None:
    pole, adapter = unplugged
    write_config(pole)
    with pole.broker.collector("edgepost/#") as sub:
        pole.start_agent()
        missing = wait_bus(pole, lambda b: b["state"] == "port missing", "port missing shown")
        assert missing["port"] == pole.agent_port and "does not exist" in missing["reason"]
        wait_bus(pole, lambda b: b["failed_opens"] >= 4, "retries going on")
        assert pole.proc is not None and pole.proc.poll() is None, "the daemon keeps running without its port"

        adapter.plug()
        wait_until(lambda: len(voltages(sub)) >= 3, what="readings after the adapter was plugged in")
        assert set(voltages(sub)) <= {228.0, 232.0}
        assert wait_bus(pole, lambda b: b["state"] == "open", "open shown")["port"] == pole.agent_port

        adapter.unplug()
        wait_bus(pole, lambda b: b["state"] == "port missing", "port missing after the unplug")
        last_seq = max(int(r["seq"]) for r in records_of(sub))  # type: ignore[call-overload]

        adapter.plug()  # a new pty behind the same link
        wait_until(lambda: len(voltages(sub, last_seq)) >= 3, what="readings after the replug")
        wait_until(lambda: bus_events(sub) == ["port missing", "open", "lost", "port missing", "open"],
                   what=f"bus_state events upstream (got {bus_events(sub)})")
        assert pole.stop_agent() == 0
    # one line per state change, however many tries failed in between
    assert logged_bus_states(pole) == ["port missing", "open", "lost", "port missing", "open"]
    assert "Failed to connect" not in pole.log()


def test_config_reload_opens_a_port_that_appeared(unplugged: tuple[Pole, HotplugAdapter]) -> None:
    pole, adapter = unplugged
    write_config(pole, reopen_s=600.0)  # on its own, the next try would be ten minutes away
    with pole.broker.collector("edgepost/#") as sub:
        pole.start_agent()
        wait_bus(pole, lambda b: b["state"] == "port missing", "port missing shown")

        # a changed config while the port is still missing: the new driver instance waits for it too
        write_config(pole, reopen_s=600.0, period=0.25)
        done = edgepost(pole, "config", "reload")
        assert done.returncode == 0, done.stdout + done.stderr
        wait_bus(pole, lambda b: b["state"] == "port missing", "port missing after the reload")

        adapter.plug()
        done = edgepost(pole, "config", "reload")  # same config: "I plugged it in, try now"
        assert done.returncode == 0, done.stdout + done.stderr
        wait_until(lambda: len(voltages(sub)) >= 3, what="readings after the reload")
        assert wait_bus(pole, lambda b: b["state"] == "open", "open shown")["port"] == pole.agent_port
        assert pole.stop_agent() == 0
