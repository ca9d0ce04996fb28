"""Issue 12, ``edgepost scan`` as a technician runs it: the real script against ``edgepost simulate``.

- A setting the port refuses (8E1 on a pty: termios.error) is skipped with a note; the sweep goes on
  and keeps what it found (it ended in a traceback and lost the results).
- "score 0.50" is explained.
- Ctrl-C (SIGINT to the process) shows what was found so far.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import orjson
import pytest

from agent.cli.exit_codes import ExitCode
from tests.fixtures.edgepost_cli import EDGEPOST, ROOT
from tests.integration.cli.technician_line import DIMMER, DIMMER_UNIT, METER, METER_UNIT, Bench, bench

pytestmark = pytest.mark.hardware


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    with bench(tmp_path_factory.mktemp("scan")) as made:
        yield made


def test_a_setting_the_port_refuses_is_skipped_and_the_scan_goes_on(line: Bench) -> None:
    # E first: on integ the refused 8E1 ended the scan before 8N1 was tried
    done = line.run("--json", "scan", "--port", line.port, "--baud", "9600", "--parity", "E,N", "--units", "1-3")
    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
    data = orjson.loads(done.stdout)
    assert {row["unit"]: row["profile"] for row in data["found"]} == {METER_UNIT: METER, DIMMER_UNIT: DIMMER}
    assert [(s["baudrate"], s["parity"]) for s in data["skipped"]] == [(9600, "E")]
    assert "refuses" in data["skipped"][0]["reason"]
    assert "skipped 9600 E" in done.stderr


def test_what_a_score_means_is_said(line: Bench) -> None:
    done = line.run("scan", "--port", line.port, "--baud", "9600", "--parity", "N", "--units", "3")
    assert done.returncode == 0, done.stderr
    assert "score: the share of a profile's identification values" in " ".join(done.stdout.split())
    found = " ".join(done.stderr.split())
    assert f"found unit {DIMMER_UNIT} at 9600 N: {DIMMER} (score 0.50: weak: the profile declares no values" in found
    data = orjson.loads(line.run("--json", "scan", "--port", line.port, "--baud", "9600", "--parity", "N",
                                 "--units", "3").stdout)
    assert data["found"][0]["basis"].startswith("weak: the profile declares no values to compare")
    probe = line.run("probe", "--port", line.port, "--unit", str(DIMMER_UNIT))
    assert "weak: the profile declares no values to compare" in " ".join(probe.stdout.split())


def test_ctrl_c_shows_what_was_found_so_far(line: Bench) -> None:
    # 244 silent units after the two that answer: the sweep is still running when Ctrl-C comes
    scan = subprocess.Popen(
        [EDGEPOST, "scan", "--port", line.port, "--baud", "9600", "--parity", "N", "--units", "1-247",
         "--timeout", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=line.env,
    )
    errors: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert scan.stderr is not None
        for err_line in scan.stderr:
            errors.put(err_line)

    threading.Thread(target=pump, daemon=True).start()
    seen = ""
    deadline = time.monotonic() + 120
    try:
        while f"found unit {DIMMER_UNIT}" not in seen:
            assert time.monotonic() < deadline, f"the scan never found unit {DIMMER_UNIT}: {seen}"
            assert scan.poll() is None, f"the scan ended early: {seen}"
            try:
                seen += errors.get(timeout=0.5)
            except queue.Empty:
                continue
        scan.send_signal(signal.SIGINT)
        out, _ = scan.communicate(timeout=60)
    finally:
        if scan.poll() is None:
            scan.kill()
            scan.wait()
    assert scan.returncode == ExitCode.INTERRUPTED
    assert "interrupted" in out
    assert METER in out and DIMMER in out, out
    while not errors.empty():
        seen += errors.get()
    assert "Traceback" not in seen
