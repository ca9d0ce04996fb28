"""Reports: JUnit marks failures and skips, the HTML is self-contained with an embedded plot, JSON loads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import orjson

from rig.checks.result import CheckResult
from rig.observe.faultlog import FaultRecord
from rig.report.html import render_html
from rig.report.json_out import write_json
from rig.report.junit import write_junit
from rig.results import RunResult, Series


def _result() -> RunResult:
    result = RunResult("demo", "a demo", "basic", "short", 1, 1000.0, 1030.0)
    result.checks = [
        CheckResult("seqs.complete", False, "1 lost", ["seq 3"]),
        CheckResult("latency.alarm", None, "no tilt"),
        CheckResult("agent.alive", True, "alive"),
    ]
    result.faults = [FaultRecord("broker_down", 1005.0, 1015.0, detail="down 10 s"),
                     FaultRecord("disk_full", 1020.0, 1020.0, status="skipped", detail="needs tmpfs")]
    result.series = Series(
        samples=[{"t": float(t), "rss_mb": 50.0 + t / 10, "cpu": 5.0, "outbox": t % 7, "connected": True,
                  "answered": t != 12} for t in range(30)],
        arrivals=[t / 3 for t in range(90)], latencies=[(t / 3, 10.0 + t) for t in range(90)],
        violations=[(7.5, "values.good_equal_truth")],
    )
    return result


def test_junit_marks_failures_and_skips(tmp_path: Path) -> None:
    path = write_junit([_result()], tmp_path / "junit.xml")
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("skipped") == "1"
    failure = suite.find("testcase[@name='seqs.complete']/failure")
    assert failure is not None and "seq 3" in (failure.text or "")


def test_html_is_self_contained_with_the_plot() -> None:
    page = render_html(_result())
    assert "data:image/png;base64," in page and "FAIL" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "broker_down" in page and "needs tmpfs" in page and "seq 3" in page


def test_json_round_trips(tmp_path: Path) -> None:
    data = orjson.loads(write_json(_result(), tmp_path / "r.json").read_bytes())
    assert data["passed"] is False and data["checks"][0]["status"] == "failed"
    assert data["faults"][1]["status"] == "skipped"
