"""Every runtime dependency pyproject.toml declares is imported by the agent or a driver (a dependency
nothing imports is weight on every box and a version to keep secure for nothing)."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def imported_modules() -> set[str]:
    found: set[str] = set()
    for folder in ("agent", "drivers"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_runtime_dependency_is_imported() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {normalise(re.split(r"[=<>!~\[ ;]", spec, maxsplit=1)[0]) for spec in declared}
    imported = imported_modules()
    used: set[str] = set()
    for module, distributions in packages_distributions().items():
        if module in imported:
            used |= {normalise(d) for d in distributions}
    unused = names - used
    assert not unused, f"declared in pyproject.toml but imported by nothing in agent/ or drivers/: {sorted(unused)}"
