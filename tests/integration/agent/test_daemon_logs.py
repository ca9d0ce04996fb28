"""The daemon's log stream as an operator reads it: every line one structured event (pymodbus' too),
timestamps unless journald takes them, and ``run -v`` showing the Modbus frames on the wire.

Serial buses (and RTU over TCP) are driven by our own RTU master, which logs its frames itself;
pymodbus is only the Modbus TCP client, whose own frame dumps and errors become the same structured
lines (a TCP server that accepts and never answers makes it report a silent unit)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from tests.fixtures.edgepost_cli import EDGEPOST, ROOT, clean_env
from tests.integration.agent.conftest import CONFIG, DEVICES, Pole, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]

# unit 5 has no simulated device: a silent unit on the serial line
SILENT = "      - {name: ghost, bus: bus1, unit_id: 5, profile: eastron/sdm120, period_s: 0.5, points: [voltage]}"
# a unit behind a Modbus TCP server that never answers: pymodbus reports it as an error with its frame dump
MUTE_TCP = "      - {name: mute, bus: tcp1, unit_id: 1, profile: eastron/sdm120, period_s: 0.5, points: [voltage]}"
LOGFMT_LINE = re.compile(r'^(?:<\d>)?(?:time=\S+ )?level=[a-z]+ logger=\S+ event=\S+( |$)')


@pytest.fixture
def mute_tcp_server() -> Iterator[int]:
    """A loopback TCP server that accepts and reads every request, and never answers one."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    clients: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.setblocking(False)  # read nothing: the kernel buffers what the client sends
            clients.append(client)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()
        for client in clients:
            client.close()


def write_config(pole: Pole, tcp_port: int | None = None) -> None:
    devices = "\n".join([DEVICES["meter"], SILENT, *([MUTE_TCP] if tcp_port is not None else [])])
    text = CONFIG.format(state=pole.state, port=pole.agent_port, mqtt_port=pole.broker.port, devices=devices)
    if tcp_port is not None:
        serial_bus = next(line for line in text.splitlines(keepends=True) if "name: bus1, transport: serial" in line)
        tcp_bus = f"      - {{name: tcp1, transport: tcp, host: 127.0.0.1, port: {tcp_port}, timeout_s: 0.3}}\n"
        text = text.replace(serial_bus, serial_bus + tcp_bus)
    pole.write_config(text=text)


def start(pole: Pole, *args: str, env: dict[str, str] | None = None) -> None:
    with pole.log_path.open("ab") as log:
        pole.proc = subprocess.Popen([EDGEPOST, *args], stdout=log, stderr=log, cwd=ROOT, env=env or clean_env())


def unstructured(text: str) -> list[str]:
    return [line for line in text.splitlines() if not LOGFMT_LINE.match(line)]


def test_run_v_logs_modbus_frames_as_structured_rate_limited_events(pole: Pole, mute_tcp_server: int) -> None:
    write_config(pole, mute_tcp_server)
    start(pole, "run", "-c", str(pole.config), "-v")
    pole.wait_log("event=frame link=bus1 dir=tx")  # the serial line: frames from our RTU master
    pole.wait_log("event=frame link=bus1 dir=rx")
    pole.wait_log('event=frame link=bus1 dir=tx len=8 hex="05 0')  # the silent unit is asked too
    pole.wait_log("event=frame link=pymodbus dir=tx")  # Modbus TCP: pymodbus' own dump of what it sent
    assert pole.stop_agent() == 0
    log = pole.log()
    frames = [line for line in log.splitlines() if " event=frame " in line]
    serial = [line for line in frames if " link=bus1 " in line]
    assert all("level=debug logger=edgepost.frames " in line for line in frames), frames[:5]
    # a read of the meter (unit 1) as sent, and its answer: unit, function 3 or 4, address, count, CRC
    assert any(re.search(r'dir=tx len=8 hex="01 0[34]( [0-9a-f]{2}){6}" unit=1( |$)', line) for line in serial), serial
    answer = re.compile(r'dir=rx len=\d+ hex="01 0[34] ([0-9a-f]{2} ?)+" unit=1( |$)')
    assert any(answer.search(line) for line in serial), serial
    # the silent unit is never heard
    assert not any(re.search(r'dir=rx len=\d+ hex="05 ', line) for line in serial), serial
    assert unstructured(log) == []


def test_without_v_no_frames_and_pymodbus_errors_are_one_structured_line(pole: Pole, mute_tcp_server: int) -> None:
    write_config(pole, mute_tcp_server)
    start(pole, "run", "-c", str(pole.config))
    wait_until(lambda: "No response received" in pole.log(), what="pymodbus reporting the silent TCP unit")
    assert pole.stop_agent() == 0
    log = pole.log()
    assert unstructured(log) == []
    assert " event=frame " not in log
    errors = [line for line in log.splitlines() if "logger=pymodbus" in line]
    assert errors and all(" event=log " in line and "level=error" in line for line in errors), errors
    assert not any(line.startswith(">>>>>") for line in log.splitlines())  # its frame dump stays inside the line
    assert all(line.startswith("time=") for line in log.splitlines())  # not under journald: timestamped


def test_under_journald_lines_carry_no_timestamp_and_a_priority_prefix(pole: Pole) -> None:
    write_config(pole)
    pole.log_path.touch()
    info = os.stat(pole.log_path)  # journald hands the daemon a stream; JOURNAL_STREAM names it
    env = clean_env(JOURNAL_STREAM=f"{info.st_dev}:{info.st_ino}", INVOCATION_ID="0123456789abcdef")
    start(pole, "run", "-c", str(pole.config), env=env)
    pole.wait_log("event=agent_ready")
    assert pole.stop_agent() == 0
    lines = pole.log().splitlines()
    assert lines and all(LOGFMT_LINE.match(line) for line in lines), lines[:5]
    assert not any("time=" in line.split(" event=", 1)[0] for line in lines)
    assert any(line.startswith("<6>level=info logger=agent.daemon event=agent_ready") for line in lines)
    assert not (pole.state / "log").exists()  # the journal keeps them: no second copy on the flash
