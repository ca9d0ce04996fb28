"""A technician's bench: ``edgepost simulate`` on one end of a socat pty pair, the CLI on the other.

Both are the installed ``edgepost`` console script run as subprocesses, as on a laptop: the simulator
serves an SDM120 meter at unit 1 and an 8-channel 0-10 V dimmer at unit 3 (9600 baud, 8N1).
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.edgepost_cli import EDGEPOST, ROOT, clean_env
from tests.fixtures.serial import socat_pty_pair

METER_UNIT = 1
DIMMER_UNIT = 3
DIMMER = "waveshare/analog-output-8ch-b"
METER = "eastron/sdm120"


@dataclass
class Bench:
    port: str  # the technician's end of the line
    config: Path  # names the dimmer "dimmer" and the meter "meter" on bus "bus1"
    env: dict[str, str]

    def run(self, *args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``edgepost ARGS`` with no config file unless ARGS name one (the default path does not exist)."""
        return subprocess.run(
            [EDGEPOST, *args], input=stdin, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=self.env
        )

    def with_config(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return self.run("-c", str(self.config), *args, stdin=stdin)

    def raw(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return self.run(*args, "--port", self.port, "--timeout", "1.0", stdin=stdin)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``edgepost: error:`` line of a failed command (asserting there is nothing else)."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("edgepost: error: "), done.stderr
    return lines[0]


def _wait_ready(process: subprocess.Popen[str], deadline_s: float = 60.0) -> None:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if lines.get(timeout=0.5).strip() == "ready":
                return
        except queue.Empty:
            if process.poll() is not None:
                raise AssertionError(f"edgepost simulate exited {process.returncode}") from None
    raise AssertionError("edgepost simulate never said ready")


@contextmanager
def bench(tmp_path: Path) -> Iterator[Bench]:
    with socat_pty_pair() as (master, slave):
        simulator = subprocess.Popen(
            [EDGEPOST, "simulate", "--port", slave, "--baud", "9600",
             "--device", f"{METER_UNIT}:{METER}", "--device", f"{DIMMER_UNIT}:{DIMMER}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            cwd=ROOT, env=clean_env(),
        )
        try:
            _wait_ready(simulator)
            config = tmp_path / "site.yaml"
            config.write_text(
                "gateway: {id: pole-1}\n"
                f"state_dir: {tmp_path / 'state'}\n"
                f"control: {{socket: {tmp_path / 'control.sock'}}}\n"
                "drivers:\n"
                "  - driver: modbus\n"
                "    name: rs485\n"
                f"    buses: [{{transport: serial, name: bus1, port: {master}, baudrate: 9600, timeout_s: 1.0}}]\n"
                "    devices:\n"
                f"      - {{name: meter, bus: bus1, unit_id: {METER_UNIT}, profile: {METER}}}\n"
                f"      - {{name: dimmer, bus: bus1, unit_id: {DIMMER_UNIT}, profile: {DIMMER}}}\n"
            )
            # no config at the default path, no daemon at the default socket: a laptop
            env = clean_env(EDGEPOST_SOCKET=str(tmp_path / "none.sock"))
            env.pop("EDGEPOST_CONFIG", None)
            yield Bench(master, config, env)
        finally:
            assert simulator.stdin is not None
            simulator.stdin.close()
            simulator.terminate()
            try:
                simulator.wait(timeout=30)
            except subprocess.TimeoutExpired:
                simulator.kill()
                simulator.wait()

