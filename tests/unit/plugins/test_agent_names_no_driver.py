"""The plugin boundary: no module under agent/ imports a concrete driver (a package under drivers/).

agent/ may use the driver contract only: ``drivers.base``, ``drivers.capabilities`` and
``drivers.registry``. Checked on the syntax tree, so a lazy import inside a function, a
``from drivers import modbus`` or an ``importlib.import_module("drivers.camera...")`` counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CONCRETE = sorted(p.parent.name for p in (ROOT / "drivers").glob("*/__init__.py"))


def _named_drivers(module: str) -> set[str]:
    parts = module.split(".")
    return {parts[1]} if len(parts) > 1 and parts[0] == "drivers" and parts[1] in CONCRETE else set()


def concrete_driver_references(path: Path, root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: set[str] = set()
        if isinstance(node, ast.Import):
            for alias in node.names:
                names |= _named_drivers(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names |= _named_drivers(node.module)
            if node.module == "drivers":
                names |= {alias.name for alias in node.names if alias.name in CONCRETE}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names |= _named_drivers(node.value.split(":")[0])  # import_module("drivers.x"), "drivers.x:Cls"
        found += [f"{path.relative_to(root)}:{node.lineno}: drivers.{name}" for name in sorted(names)]
    return found


def test_the_check_sees_every_kind_of_reference(tmp_path: Path) -> None:
    assert {"modbus", "camera"} <= set(CONCRETE)
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import drivers.modbus.bus\nfrom drivers import camera\nfrom drivers.base import Driver\n"
        "def f():\n    from drivers.modbus.profile import Table\n"
        "    return importlib.import_module('drivers.camera.x')\n"
    )
    found = [line.split(": ", 1)[1] for line in concrete_driver_references(sample, tmp_path)]
    assert found == ["drivers.modbus", "drivers.camera", "drivers.modbus", "drivers.camera"]


def test_no_module_under_agent_names_a_concrete_driver() -> None:
    modules = sorted((ROOT / "agent").rglob("*.py"))
    assert len(modules) > 50
    found = [ref for path in modules for ref in concrete_driver_references(path)]
    assert found == [], "agent/ reaches into concrete drivers:\n" + "\n".join(found)


def test_config_models_come_from_entry_points_without_the_drivers() -> None:
    """Building the config schema reads each driver's ``edgepost.driver_configs`` entry point: the camera
    driver (OpenCV, onnxruntime) is not imported to validate a config."""
    code = (
        "import sys; from agent.config import agent_config_model; from drivers.registry import driver_names;"
        "model = agent_config_model(); assert {'modbus', 'camera'} <= set(driver_names()), driver_names();"
        "print(sorted(m for m in ('cv2', 'numpy', 'onnxruntime', 'drivers.camera.driver', 'drivers.modbus.driver')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
