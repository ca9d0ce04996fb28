"""`edgepost rig run` end to end, as a person runs it: the real console script, a real pole (socat pty,
simulator, Modbus TCP and RTU-over-TCP servers, mosquitto, the agent as deployed), the reports on disk.
A planted impossible expectation (a 1 ms alarm limit) must fail the run while every honest one passes."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]

EDGEPOST = str(Path(sys.executable).parent / "edgepost")

SCENARIO = """\
name: tiny-pole
description: a short pole for the test suite
duration_s: 8
pole:
  gateway: it-rig
  buses:
    - name: bus1
      baud: 38400
      timeout_s: 0.3
      devices:
        - name: manhole
          unit: 3
          profile: witmotion/wt901c-485
          period_s: 0.2
          points:
            roll: {kind: random_walk, step: 0.5, min: -3, max: 3, seed: 3}
    - name: tcp1
      kind: tcp
      devices:
        - name: meter
          unit: 1
          profile: eastron/sdm120
          period_s: 0.5
          points:
            voltage: {kind: random_walk, step: 2, min: 200, max: 260, seed: 1}
    - name: gateway1
      kind: rtu-over-tcp
      baud: 19200
      devices:
        - name: level
          unit: 5
          profile: keller/series30
          period_s: 0.5
          points:
            p1_pressure: {kind: random_walk, step: 0.01, min: 0.05, max: 0.3, seed: 5}
timeline:
  - {fault: tilt, at: 3, for_s: 3, device: manhole, point: roll, value: 15}
  - {fault: disk_full, at: 1, for_s: 1}
expect:
  alarm_latency_ms: LIMIT
  device_states: {manhole: [online], meter: [online], level: [online]}
  settle_s: 30
"""


def _run(tmp_path: Path, limit: str) -> tuple[subprocess.CompletedProcess[str], dict, Path]:  # type: ignore[type-arg]
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SCENARIO.replace("LIMIT", limit))
    out = tmp_path / "out"
    proc = subprocess.run([EDGEPOST, "rig", "run", str(scenario), "--out", str(out)],
                          capture_output=True, text=True, timeout=240)
    results = orjson.loads((out / "tiny-pole" / "results.json").read_bytes())
    return proc, results, out


def test_a_scenario_runs_reports_and_fails_on_a_violated_expectation(tmp_path: Path) -> None:
    proc, results, out = _run(tmp_path, "1")  # no alarm crosses a pole in 1 ms: only that check may fail
    assert proc.returncode == 1, proc.stdout + proc.stderr
    statuses = {c["name"]: c["status"] for c in results["checks"]}
    assert [n for n, s in statuses.items() if s == "failed"] == ["latency.alarm"], results["checks"]
    for name in ("seqs.complete", "values.good_equal_truth", "states.manhole", "states.meter", "states.level",
                 "agent.alive", "outbox.drained", "alarms.alternate", "recovery.after_faults"):
        assert statuses[name] == "passed", results["checks"]
    assert statuses["fault.1.disk_full"] == "skipped"  # no tmpfs state dir here: reported, not faked
    latency = next(c for c in results["checks"] if c["name"] == "latency.alarm")
    assert "alarm after" in latency["details"][0]  # the alarm did arrive, just not within 1 ms
    assert results["summary"]["delivered"] > 10 and results["summary"]["lost"] == 0
    html = (out / "tiny-pole" / "report.html").read_text()
    assert "data:image/png;base64," in html and "FAIL" in html
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    assert "tiny-pole" in proc.stdout and "latency.alarm" in proc.stdout


def test_an_invalid_scenario_names_file_and_line(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(SCENARIO.replace("LIMIT", "500").replace("value: 15}", "value: 15, devce: x}"))
    proc = subprocess.run([EDGEPOST, "rig", "run", str(scenario)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{scenario}:37:" in proc.stderr and "timeline[0].devce: unknown key" in proc.stderr
