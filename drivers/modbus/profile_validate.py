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
from drivers.modbus.profile import Alarm, Point, Profile
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
    """``data`` with what failed left out, validated; and the names of the points left out.

    A bad optional key of a point (a wrong ``order:``, an unknown key) is dropped so the point still
    takes part in the overlap and alarm checks; a point missing a required key is left out whole.
    """
    pruned = {k: (dict(v) if k in _BY_NAME and isinstance(v, dict) else v) for k, v in data.items()}
    skipped: set[str] = set()
    error: ValidationError | None = exc
    for _ in range(_ROUNDS):
        if error is None:
            break
        for item in error.errors():
            _prune(pruned, item["loc"], item["type"], skipped)
        try:
            return Profile.model_validate(pruned), skipped
        except ValidationError as again:
            error = again
    return None, skipped


_ROUNDS = 3  # a pruned entry can reveal one more error behind it (a before-validator's)


def _prune(data: dict[str, Any], loc: tuple[str | int, ...], kind: str, skipped: set[str]) -> None:
    head = str(loc[0]) if loc else ""
    entries = data.get(head)
    if head in _BY_NAME and len(loc) >= 2 and isinstance(entries, dict):
        name = str(loc[1])
        entry = entries.get(name)
        model = Point if head == "points" else Alarm
        key = str(loc[2]) if len(loc) == 3 else None
        field = model.model_fields.get(key or "")
        droppable = kind == "extra_forbidden" or (field is not None and not field.is_required())
        if key is not None and droppable and isinstance(entry, dict):
            entries[name] = {k: v for k, v in entry.items() if k != key}
            return
        entries.pop(name, None)
        if head == "points":
            skipped.add(name)
    elif head in _PLACEHOLDER:
        data[head] = _PLACEHOLDER[head]
    else:
        data.pop(head, None)  # an optional key (or an unknown one): its default stands in


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
