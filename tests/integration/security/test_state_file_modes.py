"""The state dir is 0750 and every file the daemon writes in it 0640, whatever umask started it.

A real daemon (``edgepost run``) is started by hand with umask 022 or 000, with everything that
writes into the state dir switched on: the outbox (SQLite with its -wal/-shm), its seq sidecar,
the command-id store (a ping over a real mosquitto makes it write), learned Modbus ranges (an
``edgepost simulate`` device over Modbus TCP answers "illegal address" for a hole in a read), the
metrics textfile, and the control socket in a directory of its own. Then the state dir is walked.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.mosquitto import Collector, Mosquitto, free_port
from tests.integration.security.measured import EDGEPOST

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(240)]

GW = "pole-modes"
DIR_MODE, FILE_MODE, SOCKET_MODE = 0o750, 0o640, 0o660
# every file here holds data (records, command ids, device facts, metrics): exactly 0640
DATA_FILES = ("outbox.db", "outbox.db-wal", "outbox.db-shm", "seq.hwm", "commands.sqlite",
              "commands.sqlite-wal", "commands.sqlite-shm", "metrics/edgepost.prom", "modbus/rs485.illegal.json")


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def write_config(tmp_path: Path, broker: Mosquitto, modbus_port: int) -> Path:
    state = tmp_path / "state"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"gateway: {{id: {GW}}}\n"
        f"state_dir: {state}\n"
        "drivers:\n"
        "  - driver: modbus\n"
        "    name: rs485\n"
        f"    buses: [{{transport: tcp, name: plc, host: 127.0.0.1, port: {modbus_port}, timeout_s: 1.0}}]\n"
        "    devices: [{name: meter, bus: plc, unit_id: 1, profile: eastron/sdm120, period_s: 0.3}]\n"
        f"uplink: {{host: 127.0.0.1, port: {broker.port}, reconnect_min_s: 0.2, reconnect_max_s: 1}}\n"
        f"control: {{socket: {state / 'run' / 'control.sock'}, group: null}}\n"
        f"metrics: {{textfile: {state / 'metrics' / 'edgepost.prom'}, interval_s: 0.5}}\n"
    )
    return config


@pytest.fixture
def simulated_meter(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with (tmp_path / "simulate.log").open("wb") as log:
        proc = subprocess.Popen([str(EDGEPOST), "simulate", "--device", "1:eastron/sdm120",
                                 "--tcp", f"127.0.0.1:{port}"], stdin=subprocess.PIPE, stdout=log, stderr=log)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(20)


class RunningDaemon:
    def __init__(self, tmp_path: Path, config: Path, umask: int) -> None:
        self.log_path = tmp_path / f"daemon-{umask:03o}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([str(EDGEPOST), "-c", str(config), "run"], stdout=log, stderr=log,
                                         preexec_fn=lambda: os.umask(umask) and None)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def ping(port: int) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        body = {"id": "ping-1", "expires_at": time.time() + 300, "kind": "ping"}
        client.publish(f"edgepost/{GW}/cmd/ping", orjson.dumps(body), qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def modes_below(root: Path) -> dict[str, int]:
    """Relative path -> ``st_mode``, for the root (``.``) and everything under it (symlinks not followed)."""
    found = {".": root.lstat().st_mode}
    for directory, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            path = Path(directory, name)
            found[str(path.relative_to(root))] = path.lstat().st_mode
    return found


def run_and_walk(tmp_path: Path, broker: Mosquitto, sub: Collector, modbus_port: int, umask: int) -> dict[str, int]:
    """Start the daemon with ``umask``, make every writer write, walk the state dir while it runs."""
    config = write_config(tmp_path, broker, modbus_port)
    state = tmp_path / "state"
    daemon = RunningDaemon(tmp_path, config, umask)
    try:
        wait_until(lambda: any(m.topic.endswith("/birth") for m in sub.snapshot()), "the birth")
        ping(broker.port)
        wait_until(lambda: any(m.topic.endswith("/cmd-result") for m in sub.snapshot()), "the ping's answer")
        wait_until(lambda: all((state / name).exists() for name in DATA_FILES),
                   f"{DATA_FILES}; log:\n{daemon.log()[-3000:]}")
        assert daemon.proc.poll() is None, daemon.log()
        return modes_below(state)
    finally:
        daemon.stop()


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_state_dir_and_files_are_private_whatever_the_umask(
    tmp_path: Path, simulated_meter: int, umask: int
) -> None:
    with Mosquitto(tmp_path) as broker, broker.collector(f"edgepost/{GW}/#") as sub:
        found = run_and_walk(tmp_path, broker, sub, simulated_meter, umask)

    wrong: dict[str, str] = {}
    for name, mode in found.items():
        bits = stat.S_IMODE(mode)
        if stat.S_ISDIR(mode):
            expected = DIR_MODE
        elif stat.S_ISSOCK(mode):
            expected = SOCKET_MODE  # group members connect (needs write); others get nothing
        else:
            expected = FILE_MODE if name in DATA_FILES else bits & ~0o027
        if bits != expected or bits & 0o007:
            wrong[name] = f"{bits:04o}"
    assert not wrong, f"too open (umask {umask:03o}): {wrong}"
    assert {"run", "metrics", "modbus", "run/control.sock", *DATA_FILES} <= set(found)


def test_too_open_state_dir_is_tightened_at_start_and_logged_once(tmp_path: Path, simulated_meter: int) -> None:
    state = tmp_path / "state"
    (state / "modbus").mkdir(parents=True)
    os.chmod(state, 0o777)
    os.chmod(state / "modbus", 0o775)
    stale = state / "seq.hwm"  # as a daemon started by hand with umask 000 left it
    stale.write_text("1000000\n")
    os.chmod(stale, 0o666)
    with Mosquitto(tmp_path) as broker, broker.collector(f"edgepost/{GW}/#") as sub:
        config = write_config(tmp_path, broker, simulated_meter)
        daemon = RunningDaemon(tmp_path, config, 0o022)
        try:
            wait_until(lambda: any(m.topic.endswith("/birth") for m in sub.snapshot()), "the birth")
            found = modes_below(state)
        finally:
            daemon.stop()
    assert stat.S_IMODE(found["."]) == DIR_MODE and stat.S_IMODE(found["modbus"]) == DIR_MODE
    assert stat.S_IMODE(found["seq.hwm"]) == FILE_MODE
    lines = [line for line in daemon.log().splitlines() if "state_dir_permissions_tightened" in line]
    assert len(lines) == 1, daemon.log()
    assert "dir_mode_was=0777" in lines[0] and "entries_changed=3" in lines[0], lines[0]
