"""Field acceptance mode without hardware: the 'real' device is the simulator behind a second pty pair,
started outside the rig (`edgepost simulate`), so the rig sees only a port. Values are checked against
an expected-values file; faults that need the rig's own simulator are skipped and reported."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from rig.pole.pty import socat_pty_pair

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]

EDGEPOST = str(Path(sys.executable).parent / "edgepost")

SCENARIO = """\
name: field-pole
description: field acceptance of a pole with an energy meter
group: field
duration_s: 6
pole:
  gateway: it-field
  expected_file: expected.yaml
  buses:
    - name: bus1
      port: "{port}"
      baud: 9600
      timeout_s: 0.5
      devices:
        - {{name: meter, unit: 1, profile: eastron/sdm120, period_s: 0.5, read: [voltage, frequency, current]}}
timeline:
  - {{fault: device_silent, at: 2, for_s: 2, device: meter}}
"""

# voltage right (the device reads 231.0), frequency wrong on purpose (it reads 50.0)
EXPECTED = "meter:\n  voltage: {value: 231.0, tolerance: 0.5}\n  frequency: {min: 59.5, max: 60.5}\n"


@pytest.fixture
def real_looking_port(tmp_path: Path) -> Iterator[str]:
    """A pty whose far end is served by `edgepost simulate`, which the rig does not know about."""
    with socat_pty_pair() as (device_end, port):
        sim = subprocess.Popen(
            [EDGEPOST, "simulate", "--spec", str(_sim_spec(tmp_path, device_end))],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            assert sim.stdout is not None
            deadline = time.monotonic() + 30
            while (line := sim.stdout.readline()) and line.strip() != "ready":
                assert time.monotonic() < deadline, "simulator did not start"
            yield port
        finally:
            sim.kill()
            sim.wait(10)


def _sim_spec(tmp_path: Path, port: str) -> Path:
    spec = tmp_path / "sim.yaml"
    spec.write_text(
        f'buses:\n  - serial: {{port: "{port}", baud: 9600}}\n    devices:\n'
        "      - {unit: 1, profile: eastron/sdm120, points: {voltage: 231.0, frequency: 50.0, current: 1.5}}\n"
    )
    return spec


def _accept(tmp_path: Path, port: str, expected: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    (tmp_path / "expected.yaml").write_text(expected)
    scenario = tmp_path / "field.yaml"
    scenario.write_text(SCENARIO.format(port=port))
    out = tmp_path / "out"
    proc = subprocess.run([EDGEPOST, "rig", "run", str(scenario), "--out", str(out)],
                          capture_output=True, text=True, timeout=240)
    return proc.returncode, orjson.loads((out / "field-pole" / "results.json").read_bytes())


def test_field_acceptance_checks_readings_against_the_expected_values(tmp_path: Path, real_looking_port: str) -> None:
    code, results = _accept(tmp_path, real_looking_port, EXPECTED)
    assert code == 1  # the frequency expectation is wrong on purpose
    checks = {c["name"]: c for c in results["checks"]}
    values = checks["values.good_equal_truth"]
    assert values["status"] == "failed", values
    assert any("meter.frequency = 50.0" in d for d in values["details"]), values
    assert not any("meter.voltage" in d for d in values["details"])  # the right expectation held
    assert "without an expectation" in values["summary"]  # current has none: not checked, and said so
    skipped = checks["fault.1.device_silent"]
    assert skipped["status"] == "skipped" and "real hardware" in skipped["summary"]
    for name in ("seqs.complete", "agent.alive", "outbox.drained"):
        assert checks[name]["status"] == "passed", checks[name]
