"""``extends:`` inheritance: a firmware variant overrides only what changed in its base.

Rules: top-level keys replace the base's; ``points`` and ``alarms`` merge by name, field by field;
``remove_points:`` / ``remove_alarms:`` drop entries of the base. The variant's ``id`` and
``firmware`` range are its own and are never inherited.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

from agent.yamlsource import YamlDocument
from drivers.modbus.profile_source import ChainDocument, problem

_MERGED_BY_NAME = ("points", "alarms")
_REMOVALS = {"remove_points": "points", "remove_alarms": "alarms"}
_NOT_INHERITED = ("id", "firmware", "extends")


class _Resolver:
    def __init__(self, docs: dict[str, YamlDocument], broken: set[str]) -> None:
        self.docs = docs
        self.broken = broken  # ids whose file could not be parsed
        self.done: dict[str, ChainDocument | None] = {}
        self.problems: dict[str, list[str]] = {}

    def resolve(self, profile_id: str, stack: tuple[str, ...] = ()) -> ChainDocument | None:
        if profile_id in self.done:
            return self.done[profile_id]
        doc = self.docs[profile_id]
        result = self._resolve(profile_id, doc, stack)
        self.done[profile_id] = result
        return result

    def _fail(self, profile_id: str, message: str) -> None:
        self.problems.setdefault(profile_id, []).append(message)

    def _resolve(self, profile_id: str, doc: YamlDocument, stack: tuple[str, ...]) -> ChainDocument | None:
        data = doc.data
        if not isinstance(data, dict):
            self._fail(profile_id, problem(doc, [], "a profile must be a mapping of keys"))
            return None
        base_id = data.get("extends")
        if base_id is None:
            return ChainDocument(source=doc.source, data=copy.deepcopy(data), chain=[doc])
        if not isinstance(base_id, str):
            self._fail(profile_id, problem(doc, ["extends"], f"expected a profile id, got {base_id!r}"))
            return None
        if base_id == profile_id or base_id in stack:
            loop = stack[stack.index(base_id) :] if base_id in stack else ()
            cycle = " -> ".join([*loop, profile_id, base_id])
            self._fail(profile_id, problem(doc, ["extends"], f"inheritance cycle {cycle}"))
            return None
        if base_id not in self.docs:
            self._fail(profile_id, problem(doc, ["extends"], self._unknown_base(base_id, profile_id)))
            return None
        base = self.resolve(base_id, (*stack, profile_id))
        if base is None:
            self._fail(profile_id, problem(doc, ["extends"], f"base profile '{base_id}' is invalid"))
            return None
        same_model = all(data.get(key, base.data.get(key)) == base.data.get(key) for key in ("vendor", "model"))
        if same_model and "firmware" not in data:
            message = "a variant of the same vendor/model needs its own 'firmware:' range"
            self._fail(profile_id, problem(doc, ["extends"], message))
        merged = self._merge(profile_id, doc, base.data)
        return ChainDocument(source=doc.source, data=merged, chain=[doc, *base.chain])

    def _unknown_base(self, base_id: str, profile_id: str) -> str:
        if base_id in self.broken:
            return f"base profile '{base_id}' could not be read"
        close = difflib.get_close_matches(base_id, [i for i in self.docs if i != profile_id], n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        return f"unknown base profile '{base_id}'{hint}"

    def _merge(self, profile_id: str, doc: YamlDocument, base: dict[str, Any]) -> dict[str, Any]:
        merged = {k: copy.deepcopy(v) for k, v in base.items() if k not in _NOT_INHERITED}
        for key, value in doc.data.items():
            if key in _REMOVALS:
                continue
            if key in _MERGED_BY_NAME and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = _merge_by_name(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        for key, table in _REMOVALS.items():
            if key in doc.data:
                self._remove(profile_id, doc, key, merged.setdefault(table, {}))
        return merged

    def _remove(self, profile_id: str, doc: YamlDocument, key: str, entries: Any) -> None:
        names = doc.data[key]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self._fail(profile_id, problem(doc, [key], "expected a list of names"))
            return
        if not isinstance(entries, dict):
            return
        for index, name in enumerate(names):
            if name not in entries:
                what = _REMOVALS[key][:-1]
                self._fail(profile_id, problem(doc, [key, index], f"no {what} '{name}' to remove"))
            else:
                del entries[name]


def _merge_by_name(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = {name: copy.deepcopy(entry) for name, entry in base.items()}
    for name, entry in override.items():
        if isinstance(entry, dict) and isinstance(out.get(name), dict):
            out[name] = {**out[name], **copy.deepcopy(entry)}
        else:
            out[name] = copy.deepcopy(entry)
    return out


def resolve_all(
    docs: dict[str, YamlDocument], broken: set[str]
) -> tuple[dict[str, ChainDocument], dict[str, list[str]]]:
    """Merged documents by profile id (also of ids with a problem, when they could be merged), and
    the problems of each id that failed."""
    resolver = _Resolver(docs, broken)
    resolved: dict[str, ChainDocument] = {}
    for profile_id in sorted(docs):
        result = resolver.resolve(profile_id)
        if result is not None:  # merged despite a problem (a missing firmware range): validated too
            resolved[profile_id] = result
    return resolved, resolver.problems
