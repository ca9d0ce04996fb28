"""docs/sparkplug-conformance.md names the tests behind each statement: every one of them exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "sparkplug-conformance.md"
KEYS = {
    "W": "tests/integration/uplink/test_sparkplug_wire.py",
    "D": "tests/integration/uplink/test_sparkplug_ndeath.py",
    "M": "tests/integration/uplink/test_sparkplug_mqtt.py",
    "H": "tests/integration/uplink/test_sparkplug_host_devices.py",
    "U": "tests/unit/uplink/test_sparkplug_parts.py",
}


def functions_in(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_named_in_the_conformance_table_exists() -> None:
    text = DOC.read_text()
    named = [(KEYS[k], name) for k, name in re.findall(r"\b([WDMHU])::(test_\w+)", text)]
    named += re.findall(r"(tests/[\w/]+\.py)::(test_\w+)", text)
    assert len(named) > 50
    missing = [f"{path}::{name}" for path, name in named if name not in functions_in(path)]
    assert missing == []
