"""The edgepost command against the real daemon (``edgepost run``) on a socat pty with the simulator.

The daemon owns the serial bus; the CLI must borrow it through the control socket, never open it.
The daemon also talks sd_notify to a datagram socket the test binds in place of systemd.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from agent.cli.exit_codes import ExitCode
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedDevice, SineSpec
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair

pytestmark = [pytest.mark.hardware, pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[3]


class NotifyListener:
    """Stands in for systemd: reads every datagram the daemon sends to NOTIFY_SOCKET, in a thread."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.lines += self.sock.recv(4096).decode().split("\n")
            except TimeoutError:
                continue

    def wait_for(self, line: str, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if line in self.lines:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


class Daemon:
    def __init__(self, proc: subprocess.Popen[bytes], config: Path, sock: Path, port: str, notify: NotifyListener):
        self.proc = proc
        self.config = config
        self.sock = sock
        self.port = port
        self.notify = notify

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agent.cli.main", "-c", str(self.config), *args],
            capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        )

    def json(self, *args: str) -> object:
        done = self.cli("--json", *args)
        assert done.returncode == 0, done.stderr
        return orjson.loads(done.stdout)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    work = tmp_path_factory.mktemp("daemon")
    registry = ProfileRegistry.load()
    generators = {"voltage": ConstantSpec(value=229.0), "current": SineSpec(amplitude=3.0, period=5.0, offset=10.0)}
    devices = [SimulatedDevice(1, registry.get("eastron/sdm120"), generators)]
    notify = NotifyListener(work / "notify")
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, devices, baud=9600):
        config = work / "config.yaml"
        sock = work / "control.sock"
        config.write_text(
            "gateway: {id: pole-it}\n"
            f"state_dir: {work / 'state'}\n"
            "uplink: {enabled: false}\n"
            f"control: {{socket: {sock}, group: null}}\n"
            "drivers:\n"
            "  - driver: modbus\n"
            "    name: rs485\n"
            f"    buses: [{{transport: serial, name: bus1, port: {master}, baudrate: 9600, timeout_s: 0.5}}]\n"
            "    devices: [{name: meter1, bus: bus1, unit_id: 1, profile: eastron/sdm120,\n"
            "               points: {voltage: {period: 2}, current: {period: 0.5}}}]\n"
        )
        env = {**os.environ, "NOTIFY_SOCKET": str(work / "notify"), "WATCHDOG_USEC": "2000000"}
        env.pop("WATCHDOG_PID", None)
        log = (work / "daemon.log").open("wb")  # a pipe nobody reads would block the daemon's logging
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli.main", "-c", str(config), "run"],
            cwd=ROOT, env=env, stdout=log, stderr=log,
        )
        handle = Daemon(proc, config, sock, master, notify)
        try:
            assert notify.wait_for("READY=1", timeout=60), (notify.lines, proc.poll())
            yield handle
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            notify.close()
            log.close()


def test_watchdog_pings_while_running(daemon: Daemon) -> None:
    before = daemon.notify.lines.count("WATCHDOG=1")
    deadline = time.monotonic() + 15
    while daemon.notify.lines.count("WATCHDOG=1") < before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert daemon.notify.lines.count("WATCHDOG=1") >= before + 2


def test_status_and_buffer_stats(daemon: Daemon) -> None:
    data = daemon.json("status")
    assert isinstance(data, dict) and "status" in data and "outbox" in data
    assert isinstance(data["outbox"]["records"], int)
    stats = daemon.json("buffer", "stats")
    assert isinstance(stats, dict) and "last_seq" in stats


def test_export_reads_the_outbox_beside_the_running_daemon(daemon: Daemon) -> None:
    done = daemon.cli("buffer", "export", "--format", "jsonl", "--device", "meter1")
    assert done.returncode == 0, done.stderr
    records = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert records and all(r["device"] == "meter1" for r in records)
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    assert daemon.proc.poll() is None


def test_read_point_through_the_daemon(daemon: Daemon) -> None:
    reading = daemon.json("read", "meter1", "voltage")
    assert isinstance(reading, dict) and reading["value"] == pytest.approx(229.0)


def test_read_every_point_of_a_device_through_the_daemon(daemon: Daemon) -> None:
    readings = daemon.json("read", "meter1")
    assert isinstance(readings, list)
    assert [r["point"] for r in readings] == ["voltage", "current"]  # the device's selection, in order
    assert readings[0]["value"] == pytest.approx(229.0)


def test_guarded_writes_through_the_daemon(daemon: Daemon) -> None:
    # 99.0 as float32 (0x42C6 0x0000) in demand_period: outside the profile's range, so --yes is needed
    refused = daemon.cli("write", "--bus", "bus1", "--unit", "1", "--address", "2", "0x42C6", "0")
    assert refused.returncode == ExitCode.FAILED and "demand_period" in refused.stderr and "--yes" in refused.stderr
    assert daemon.json("read", "meter1", "demand_period")["value"] != 99.0  # type: ignore[index]
    # a comms setting through the daemon asks, and with no answer (no terminal) it is not sent
    asked = daemon.cli("write", "meter1", "modbus_address", "5")
    assert asked.returncode == ExitCode.FAILED and "communication setting" in asked.stderr
    assert daemon.json("read", "meter1", "modbus_address")["value"] == 1  # type: ignore[index]


def test_raw_access_borrows_the_daemon_bus(daemon: Daemon) -> None:
    by_bus = daemon.json("read", "--bus", "bus1", "--unit", "1", "--table", "input", "--address", "0", "--count", "2")
    # the daemon holds the pty; naming the port still works because it is routed to the daemon's bus
    by_port = daemon.json("read", "--port", daemon.port, "--unit", "1", "--table", "input", "--address", "0",
                          "--count", "2")
    assert isinstance(by_bus, dict) and isinstance(by_port, dict)
    assert by_bus["values"] == by_port["values"] and by_bus["values"] != [0, 0]
    assert daemon.cli("write", "--bus", "bus1", "--unit", "1", "--address", "2", "0x4170", "0").returncode == 0
    assert daemon.json("read", "meter1", "demand_period")["value"] == 15.0  # type: ignore[index]


def test_probe_through_the_daemon(daemon: Daemon) -> None:
    data = daemon.json("probe", "--bus", "bus1", "--unit", "1")
    assert isinstance(data, dict) and data["matches"][0]["profile"] == "eastron/sdm120"


def test_scan_refuses_the_daemons_port(daemon: Daemon) -> None:
    done = daemon.cli("scan", "--port", daemon.port, "--units", "1")
    assert done.returncode == ExitCode.FAILED
    assert "running daemon" in done.stderr and len(done.stderr.splitlines()) == 1


def test_watch_streams_live_readings(daemon: Daemon) -> None:
    done = daemon.cli("--json", "watch", "--device", "meter1", "--count", "2", timeout=60)
    assert done.returncode == 0, done.stderr
    records = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == 2 and all(r["device"] == "meter1" for r in records)


def test_a_broken_config_is_refused_and_the_old_one_keeps_running(daemon: Daemon) -> None:
    good = daemon.config.read_text()
    try:
        daemon.config.write_text(good + "bogus: 1\n")
        # the CLI cannot read the socket path from a broken config: name it
        done = daemon.cli("--socket", str(daemon.sock), "config", "reload")
        assert done.returncode == ExitCode.USAGE
        assert done.stdout.strip().endswith("bogus: unknown key")
        daemon.proc.send_signal(signal.SIGHUP)  # what systemctl reload does
        time.sleep(0.5)
        # still serving from the old config: the device keeps answering through the daemon
        assert daemon.proc.poll() is None
        reading = daemon.json("--socket", str(daemon.sock), "read", "meter1", "voltage")
        assert isinstance(reading, dict) and reading["value"] == pytest.approx(229.0)
    finally:
        daemon.config.write_text(good)
    assert daemon.cli("config", "reload").returncode == 0
    assert "READY=1" in daemon.notify.lines and "RELOADING=1" in daemon.notify.lines


def test_sigterm_stops_cleanly(daemon: Daemon) -> None:
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(40) == 0
    assert daemon.notify.wait_for("STOPPING=1", timeout=5)
    assert not daemon.sock.exists()
    assert daemon.cli("status").returncode == ExitCode.NO_DAEMON
