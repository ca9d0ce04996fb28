"""Find scenarios: a file, a directory of them, or the name of one shipped in ``rig/scenarios``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agent.errors import ConfigError

SHIPPED = Path(__file__).resolve().parent / "scenarios"


def shipped() -> list[Path]:
    return sorted(SHIPPED.glob("*.yaml"))


def resolve(refs: Iterable[str]) -> list[Path]:
    """Scenario files for ``refs`` (paths, directories or shipped names), in order, each once."""
    found: dict[Path, None] = {}
    problems: list[str] = []
    for ref in refs:
        path = Path(ref)
        if path.is_dir():
            found.update(dict.fromkeys(sorted(path.glob("*.yaml"))))
        elif path.is_file():
            found[path] = None
        elif (SHIPPED / f"{ref}.yaml").is_file():
            found[SHIPPED / f"{ref}.yaml"] = None
        else:
            names = ", ".join(p.stem for p in shipped())
            problems.append(f"{ref}: no such scenario file, directory or shipped scenario (shipped: {names})")
    if problems:
        raise ConfigError(problems)
    return list(found)
