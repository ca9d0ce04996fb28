"""The DL/T 645 profiles among ``firmware_profiles/``: every file with ``driver: dlt645``, resolved and checked.

Modbus profiles live in the same tree (they name no driver) and are skipped here, as these are by
the Modbus registry. ``extends:`` works as for Modbus profiles (the same resolver), within the
DL/T 645 files. One bad file does not hide the others: its problems land in ``problems``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.errors import ProfileError
from agent.yamlsource import YamlDocument, validation_problems
from drivers.dlt645.profile import Dlt645Profile
from drivers.modbus.profile_extends import resolve_all
from drivers.modbus.profile_source import problem, read_profile_file
from drivers.modbus.profiles import DEFAULT_PROFILE_DIR

DRIVER = "dlt645"


def declares_driver(doc: YamlDocument, driver: str = DRIVER) -> bool:
    return isinstance(doc.data, dict) and doc.data.get("driver") == driver


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class Dlt645Profiles:
    """Resolved DL/T 645 profiles by id, plus the problems of the files that failed."""

    def __init__(self, root: Path, profiles: dict[str, Dlt645Profile], problems: dict[str, list[str]]) -> None:
        self.root = root
        self._profiles = profiles
        self.problems = problems

    @property
    def errors(self) -> list[str]:
        return [line for key in sorted(self.problems) for line in self.problems[key]]

    @classmethod
    def load(cls, root: Path | None = None, *, strict: bool = False) -> Dlt645Profiles:
        """Every DL/T 645 profile under ``root`` (the shipped ``firmware_profiles/`` by default)."""
        root = Path(root) if root is not None else DEFAULT_PROFILE_DIR
        registry = cls(root, *_load_tree(root))
        if strict and registry.errors:
            raise ProfileError(registry.errors)
        return registry

    def ids(self) -> list[str]:
        return sorted(self._profiles)

    def all(self) -> list[Dlt645Profile]:
        return [self._profiles[i] for i in self.ids()]

    def get(self, ref: str) -> Dlt645Profile:
        """A profile by id, or by ``vendor/model`` when exactly one profile is that model."""
        exact = self._profiles.get(ref)
        if exact is not None:
            return exact
        vendor, _, model = ref.partition("/")
        found = [p for p in self.all() if _slug(p.vendor) == _slug(vendor) and _slug(p.model) == _slug(model)]
        if len(found) == 1:
            return found[0]
        if found:
            raise ProfileError([f"'{ref}' is ambiguous: {', '.join(p.id for p in found)}; give a profile id"])
        close = difflib.get_close_matches(ref, self.ids(), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else f"; known: {', '.join(self.ids())}"
        raise ProfileError([f"unknown DL/T 645 profile '{ref}'{hint}"])


def _load_tree(root: Path) -> tuple[dict[str, Dlt645Profile], dict[str, list[str]]]:
    if not root.is_dir():
        return {}, {"": [f"{root}: profile directory does not exist"]}
    docs: dict[str, YamlDocument] = {}
    broken: set[str] = set()
    errors: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.yaml")):
        relative = path.relative_to(root)
        profile_id = relative.with_suffix("").as_posix()
        try:
            doc = read_profile_file(path, f"{root.name}/{relative.as_posix()}")
        except ValueError:
            continue  # unreadable: the Modbus registry reports it (we cannot tell whose it is)
        if declares_driver(doc):
            docs[profile_id] = doc
    resolved, failed = resolve_all(docs, broken)
    profiles: dict[str, Dlt645Profile] = {}
    for profile_id in sorted(docs):
        if profile_id in failed:
            errors[profile_id] = failed[profile_id]
            continue
        profile, problems = _validate(profile_id, resolved[profile_id])
        if problems:
            errors[profile_id] = problems
        elif profile is not None:
            profiles[profile_id] = profile
    return profiles, errors


def _validate(profile_id: str, doc: YamlDocument) -> tuple[Dlt645Profile | None, list[str]]:
    data: dict[str, Any] = dict(doc.data)
    declared = data.get("id")
    if declared is not None and declared != profile_id:
        return None, [problem(doc, ["id"], f"must match the file path '{profile_id}', got {declared!r}")]
    data["id"] = profile_id
    try:
        profile = Dlt645Profile.model_validate(data)
    except ValidationError as exc:
        return None, validation_problems(doc, exc)
    return profile, _check(profile, doc)


def _check(profile: Dlt645Profile, doc: YamlDocument) -> list[str]:
    """What pydantic cannot see: DIs of the other edition, alarms on unknown or unreadable points."""
    found: list[str] = []
    width = profile.edition.di_width
    for name, point in profile.points.items():
        if point.data_id.width != width:
            message = f"a {point.data_id.width}-byte DI in a DL/T 645-{profile.edition} profile (wants {width} bytes)"
            found.append(problem(doc, ["points", name, "di"], message))
    for name, alarm in profile.alarms.items():
        target = profile.points.get(alarm.point)
        if target is None:
            close = difflib.get_close_matches(alarm.point, list(profile.points), n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            found.append(problem(doc, ["alarms", name, "point"], f"no point '{alarm.point}'{hint}"))
        elif target.data_format.kind != "number":
            found.append(problem(doc, ["alarms", name, "point"], f"'{alarm.point}' is not a number ({target.format})"))
    return found
