"""JUnit XML: one testsuite per scenario, one testcase per check (skipped faults are skipped cases),
so any CI system shows what failed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from rig.results import RunResult


def junit_tree(results: Sequence[RunResult]) -> ET.ElementTree:
    suites = ET.Element("testsuites", name="edgepost rig")
    for r in results:
        checks = r.checks
        suite = ET.SubElement(
            suites, "testsuite", name=f"rig.{r.scenario}", tests=str(len(checks) + (1 if r.error else 0)),
            failures=str(len(r.failed_checks)), errors="1" if r.error else "0",
            skipped=str(len([c for c in checks if c.passed is None])), time=f"{r.ended - r.started:.1f}",
        )
        if r.error:
            case = ET.SubElement(suite, "testcase", classname=f"rig.{r.scenario}", name="run")
            ET.SubElement(case, "error", message=r.error[:500]).text = r.error
        for check in checks:
            case = ET.SubElement(suite, "testcase", classname=f"rig.{r.scenario}", name=check.name)
            if check.passed is None:
                ET.SubElement(case, "skipped", message=check.summary)
            elif not check.passed:
                node = ET.SubElement(case, "failure", message=check.summary[:500])
                node.text = "\n".join([check.summary, *check.details])
            else:
                ET.SubElement(case, "system-out").text = check.summary
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(results: Sequence[RunResult], path: Path) -> Path:
    junit_tree(results).write(path, encoding="utf-8", xml_declaration=True)
    return path
