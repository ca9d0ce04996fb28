"""Reading profile files: YAML with positions, duplicate keys named by path, and merged documents.

A variant profile's data is merged from several files (``extends:``). ``ChainDocument`` keeps the
files of the chain so that every problem still names the file and line the offending value came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from agent.yamlsource import PathKey, YamlDocument, bounded_yaml, format_path, parse_yaml, read_yaml_text

_DUPLICATE = re.compile(r'^.*:(?P<line>\d+):(?P<col>\d+): found duplicate key "(?P<key>[^"]*)"')

# how deep the merge of a variant over its base goes: points.<name>.<field>, otherwise top-level keys
_MERGE_DEPTH = {"points": 3, "alarms": 3}


def problem(doc: YamlDocument, path: Sequence[str | int], message: str) -> str:
    """One ``file:line:col path: message`` line."""
    return f"{doc.where(path)} {format_path(path)}: {message}"


def other_drivers_profile(doc: YamlDocument) -> bool:
    """A profile of another driver (``driver: dlt645``) in the shared tree; Modbus profiles name none."""
    return isinstance(doc.data, dict) and doc.data.get("driver", "modbus") != "modbus"


def read_profile_file(path: Path, source: str) -> YamlDocument:
    """Parse one file. Raises ``ValueError`` with ``source:line:col path: message`` on bad YAML."""
    return parse_profile_text(read_yaml_text(path, source), source)


def parse_profile_text(text: str, source: str) -> YamlDocument:
    try:
        return parse_yaml(text, source)
    except ValueError as exc:
        match = _DUPLICATE.match(str(exc))
        if match is None:
            raise
        line, col, key = int(match["line"]), int(match["col"]), match["key"]
        path = _duplicate_path(text, line, col, key)
        raise ValueError(f"{source}:{line}:{col} {format_path(path)}: duplicate key") from None


def _duplicate_path(text: str, line: int, col: int, key: str) -> list[str | int]:
    """Path of a duplicated key: the innermost mapping at that column that starts above the line."""
    try:
        root = bounded_yaml(allow_duplicate_keys=True).load(text)
    except YAMLError:
        return [key]
    best: tuple[tuple[int, int], PathKey] | None = None
    stack: list[tuple[Any, PathKey]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen:  # an alias: its node was searched where it is defined
            continue
        seen.add(id(node))
        if isinstance(node, CommentedMap):
            if key in node and _may_hold(node, line, col):
                start = min((node.lc.key(k)[0] + 1, node.lc.key(k)[1] + 1) for k in node)
                if best is None or start > best[0]:
                    best = (start, path)
            stack.extend((node[k], (*path, str(k))) for k in node)
        elif isinstance(node, CommentedSeq):
            stack.extend((item, (*path, i)) for i, item in enumerate(node))
    return [*(best[1] if best else ()), key]


def _may_hold(node: CommentedMap, line: int, col: int) -> bool:
    """Could the key at ``line:col`` belong to this mapping? (starts before it, same indent or flow)"""
    starts = [(node.lc.key(k)[0] + 1, node.lc.key(k)[1] + 1) for k in node]
    if min(starts) >= (line, col):
        return False
    return bool(node.fa.flow_style()) or col in {c for _, c in starts}


@dataclass
class ChainDocument(YamlDocument):
    """Merged data of a variant and its bases; positions come from the file that owns each value."""

    chain: list[YamlDocument] = field(default_factory=list)

    def _owner(self, path: Sequence[str | int]) -> YamlDocument:
        key = tuple(path)
        if not key or not self.chain:
            return self.chain[0] if self.chain else self
        depth = _MERGE_DEPTH.get(str(key[0]), 1)
        owning = key[:depth]
        for doc in self.chain:
            if owning in doc.positions:
                return doc
        # not in any file (a default or a missing key): the file with the deepest existing prefix
        return max(self.chain, key=lambda doc: _known_depth(doc, key))

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        return self._owner(path).position(path)

    def where(self, path: Sequence[str | int]) -> str:
        owner = self._owner(path)
        return owner.where(path)


def _known_depth(doc: YamlDocument, key: PathKey) -> int:
    for depth in range(len(key), 0, -1):
        if key[:depth] in doc.positions:
            return depth
    return 0
