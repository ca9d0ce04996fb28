"""Validate one resolved profile document: every problem of the file in one pass, ordered by line.

Pydantic stops a model at its first broken field only per field; the semantic checks
(``profile_checks``) need a validated model. So when the document has schema errors, the entries
that failed (a point, an alarm, a top-level key) are set aside and the rest is validated again, so
that an overlap or a bad write range is reported in the same run as a mistyped key.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from agent.yamlsource import YamlDocument, validation_problems
from drivers.modbus.profile import Profile
from drivers.modbus.profile_checks import check_profile
from drivers.modbus.profile_source import problem

_BY_NAME = ("points", "alarms")
_PLACEHOLDER = {"vendor": "?", "model": "?", "source": "?", "points": {}}
_WHERE = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<col>\d+) ")


def validate_profile(profile_id: str, doc: YamlDocument) -> tuple[Profile | None, list[str]]:
    """The profile, or None and every problem found (``file:line:col path: message``, by position)."""
    data: dict[str, Any] = dict(doc.data)
    declared = data.get("id")
    if declared is not None and declared != profile_id:
        return None, [problem(doc, ["id"], f"must match the file path '{profile_id}', got {declared!r}")]
    data["id"] = profile_id
    data = _default_bit_types(data)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(doc, exc, model=Profile)
        partial, skipped = _without_failures(data, exc)
        if partial is not None:
            problems += check_profile(partial, doc, skipped_points=skipped)
        return None, sort_problems(problems)
    return profile, sort_problems(check_profile(profile, doc))


def sort_problems(problems: list[str]) -> list[str]:
    """By file, then line and column; lines without a position keep their place at the end."""

    def key(text: str) -> tuple[int, str, int, int]:
        match = _WHERE.match(text)
        if match is None:
            return (1, "", 0, 0)
        return (0, match["file"], int(match["line"]), int(match["col"]))

    return sorted(dict.fromkeys(problems), key=key)


def _without_failures(data: dict[str, Any], exc: ValidationError) -> tuple[Profile | None, set[str]]:
    """``data`` with every entry that failed left out, validated; and the point names left out."""
    pruned = dict(data)
    for key in _BY_NAME:
        if isinstance(pruned.get(key), dict):
            pruned[key] = dict(pruned[key])
    skipped: set[str] = set()
    for error in exc.errors():
        loc = error["loc"]
        head = str(loc[0]) if loc else ""
        if head in _BY_NAME and len(loc) >= 2 and isinstance(pruned.get(head), dict):
            pruned[head].pop(str(loc[1]), None)
            if head == "points":
                skipped.add(str(loc[1]))
        elif head in _PLACEHOLDER:
            pruned[head] = _PLACEHOLDER[head]
        else:
            pruned.pop(head, None)  # an optional key (or an unknown one): its default stands in
    try:
        return Profile.model_validate(pruned), skipped
    except ValidationError:
        return None, skipped


def _default_bit_types(data: dict[str, Any]) -> dict[str, Any]:
    """Coil and discrete points are bool unless they say otherwise (the model's default is uint16)."""
    points = data.get("points")
    if not isinstance(points, dict):
        return data
    data["points"] = {
        name: {**point, "type": "bool"}
        if isinstance(point, dict) and point.get("table") in ("coil", "discrete") and "type" not in point
        else point
        for name, point in points.items()
    }
    return data
