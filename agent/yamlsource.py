"""Load YAML keeping line/column positions, and turn validation errors into ``file:line:col path: msg``.

Shared by the config loader and the firmware-profile loader so that every bad input names the
file, the line, the field path and what was expected, and never shows a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

PathKey = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """Plain data (dicts, lists, scalars) plus the 1-based position of every node."""

    source: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Position of the deepest node on ``path`` that exists in the document."""
        key = tuple(path)
        while key:
            if key in self.positions:
                return self.positions[key]
            key = key[:-1]
        return self.positions.get((), (1, 1))

    def where(self, path: Sequence[str | int]) -> str:
        line, col = self.position(path)
        return f"{self.source}:{line}:{col}"


def format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<document>"


def _plain(node: Any, path: PathKey, positions: dict[PathKey, tuple[int, int]]) -> Any:
    if isinstance(node, CommentedMap):
        result: dict[str, Any] = {}
        for key in node:
            line, col = node.lc.key(key)
            positions[(*path, str(key))] = (line + 1, col + 1)
            result[str(key)] = _plain(node[key], (*path, str(key)), positions)
        return result
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, item in enumerate(node):
            line, col = node.lc.item(index)
            positions[(*path, index)] = (line + 1, col + 1)
            items.append(_plain(item, (*path, index), positions))
        return items
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool | int | float) or node is None:
        return node
    return node


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse YAML text. Syntax errors and duplicate keys raise ``ValueError`` with ``file:line:col``."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ValueError(f"{where}: {problem}") from None
    except YAMLError as exc:
        raise ValueError(f"{source}: invalid YAML: {exc}") from None
    positions: dict[PathKey, tuple[int, int]] = {(): (1, 1)}
    return YamlDocument(source=source, data=_plain(raw, (), positions), positions=positions)


def load_yaml_file(path: Path) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_yaml(text, str(path))


def _data_path(data: Any, loc: Sequence[str | int]) -> list[str | int]:
    """Drop the parts of a pydantic ``loc`` that are not in the data (union tags, validator names)."""
    node = data
    out: list[str | int] = []
    for part in loc:
        if isinstance(node, Mapping) and isinstance(part, str) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif isinstance(node, Mapping) and isinstance(part, str) and out[-1:] != [part]:
            # a key that is missing or unknown: keep it, it names the field
            if part.startswith(("function-", "tagged-union", "union[")) or part[:1].isupper():
                continue
            if part in {v for v in node.values() if isinstance(v, str)}:
                continue  # a discriminated-union tag (the value of ``driver:``/``transport:``)
            out.append(part)
            node = None
    return out


def _describe(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    msg = str(error.get("msg", "invalid"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    value = error.get("input")
    if kind not in {"missing", "extra_forbidden"} and not isinstance(value, dict | list):
        msg = f"{msg}, got {value!r}"
    return msg


def validation_problems(doc: YamlDocument, error: ValidationError, prefix: PathKey = ()) -> list[str]:
    """One ``file:line:col path: message`` line per pydantic error, positioned on the offending node."""
    problems: list[str] = []
    for item in error.errors():
        path = _data_path(doc.data, [*prefix, *item["loc"]])
        problems.append(f"{doc.where(path)} {format_path(path)}: {_describe(item)}")
    return problems
