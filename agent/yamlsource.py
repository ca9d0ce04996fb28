"""Load YAML keeping line/column positions, and turn validation errors into ``file:line:col path: msg``.

Shared by every YAML entry point (config, firmware profiles, simulator specs, model manifests) so
that every bad input names the file, the line, the field path and what was expected, and never
shows a traceback.

Bounded: a document may hold at most ``MAX_YAML_BYTES``, nest ``MAX_YAML_DEPTH`` deep and expand to
``MAX_YAML_NODES`` values once its aliases are followed. Anchors and aliases are shared while
parsing but copied into plain data, so ten nested aliases of ten (a "billion laughs") would take
minutes and gigabytes; it is refused while parsing, at the alias that went past the limit.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent

PathKey = tuple[str | int, ...]

MAX_YAML_BYTES = 1024 * 1024  # the largest shipped profile is under 10 KiB, a big config under 100 KiB
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 100_000  # after alias expansion; a config for 50 devices is a few thousand


class _ExpansionTooLarge(MarkedYAMLError):
    pass


class _BoundedComposer(Composer):
    """Counts the values the document will have once every alias is expanded, while composing.

    Each node adds one, each alias adds the expanded size of the node it names. The size of an
    anchored node is known when it is complete; an alias to an incomplete one (its own ancestor)
    would expand forever and is refused.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self._total = 0
        self._sizes: dict[int, int] = {}

    def _add(self, count: int, mark: Any, alias: str | None) -> None:
        self._total += count
        if self._total > MAX_YAML_NODES:
            problem = (
                f"alias *{alias} makes the document expand to more than {MAX_YAML_NODES} values (nested aliases?)"
                if alias is not None
                else f"the document has more than {MAX_YAML_NODES} values"
            )
            raise _ExpansionTooLarge(None, None, problem, mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            node = super().compose_node(parent, index)
            if node.anchor is not None and id(node) not in self._sizes:
                raise _ExpansionTooLarge(None, None, f"alias *{event.anchor} refers to a value that contains it",
                                         event.start_mark)
            self._add(self._sizes.get(id(node), 1), event.start_mark, event.anchor)
            return node
        start = self._total
        self._add(1, self.parser.peek_event().start_mark, None)
        node = super().compose_node(parent, index)
        if node.anchor is not None:
            self._sizes[id(node)] = self._total - start
        return node


def bounded_yaml(*, allow_duplicate_keys: bool = False) -> YAML:
    """A round-trip loader with the depth and expansion limits of this module."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = allow_duplicate_keys
    yaml.max_depth = MAX_YAML_DEPTH
    yaml.Composer = _BoundedComposer
    return yaml


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
    """Parse YAML text. Syntax errors, duplicate keys and the limits raise ``ValueError`` with ``file:line:col``."""
    if len(text) > MAX_YAML_BYTES:
        raise ValueError(f"{source}: {len(text)} characters, more than the {MAX_YAML_BYTES} a YAML file may have")
    yaml = bounded_yaml()
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, MaxDepthExceededError):
            problem = f"nested more than {MAX_YAML_DEPTH} levels deep"
        raise ValueError(f"{where}: {problem}") from None
    except YAMLError as exc:
        raise ValueError(f"{source}: invalid YAML: {exc}") from None
    positions: dict[PathKey, tuple[int, int]] = {(): (1, 1)}
    return YamlDocument(source=source, data=_plain(raw, (), positions), positions=positions)


def read_yaml_text(path: Path, source: str | None = None) -> str:
    """The file's text, refusing one larger than ``MAX_YAML_BYTES`` without reading it all (``/dev/zero``)."""
    where = source or str(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{where}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_YAML_BYTES:
        raise ValueError(f"{where}: more than the {MAX_YAML_BYTES} bytes a YAML file may have")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_yaml_file(path: Path) -> YamlDocument:
    return parse_yaml(read_yaml_text(path), str(path))


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


def _describe(error: Mapping[str, Any], hint: str = "") -> str:
    kind = error.get("type", "")
    msg = str(error.get("msg", "invalid"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "extra_forbidden":
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    value = error.get("input")
    if kind not in {"missing", "extra_forbidden"} and not isinstance(value, dict | list):
        msg = f"{msg}, got {value!r}"
    return msg


def validation_problems(
    doc: YamlDocument, error: ValidationError, prefix: PathKey = (), model: type[BaseModel] | None = None
) -> list[str]:
    """One ``file:line:col path: message`` line per pydantic error, positioned on the offending node.

    With the ``model`` that was validated, an unknown key gets a "did you mean" among the keys
    allowed at that place.
    """
    problems: list[str] = []
    for item in error.errors():
        path = _data_path(doc.data, [*prefix, *item["loc"]])
        hint = ""
        if model is not None and item.get("type") == "extra_forbidden" and item["loc"]:
            hint = did_you_mean(str(item["loc"][-1]), allowed_keys(model, item["loc"][:-1]))
        problems.append(f"{doc.where(path)} {format_path(path)}: {_describe(item, hint)}")
    return problems


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def allowed_keys(model: Any, loc: Sequence[str | int]) -> list[str]:
    """The keys of the pydantic model found by following a validation error's ``loc`` from ``model``."""
    node: Any = model
    for part in loc:
        node = _step(node, part)
        if node is None:
            return []
    node = _unwrap(node, None)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [field.alias or name for name, field in node.model_fields.items()]
    return []


def _unwrap(node: Any, part: str | int | None) -> Any:
    """Strip Annotated/Optional; in a union, the member a tag or class name in ``part`` names."""
    while get_origin(node) is Annotated:
        node = get_args(node)[0]
    if get_origin(node) in (Union, types.UnionType):
        members = [m for m in get_args(node) if m is not type(None)]
        models = [m for m in (_unwrap(m, None) for m in members) if isinstance(m, type) and issubclass(m, BaseModel)]
        for model in models:
            if part is not None and (model.__name__ == part or part in _tags(model)):
                return model
        return models[0] if len(models) == 1 else (members[0] if len(members) == 1 else None)
    return node


def _tags(model: type[BaseModel]) -> set[str]:
    tags: set[str] = set()
    for info in model.model_fields.values():
        if get_origin(info.annotation) is Literal:
            tags.update(str(v) for v in get_args(info.annotation))
    return tags


def _step(node: Any, part: str | int) -> Any:
    node = _unwrap(node, part)
    if node is None:
        return None
    origin = get_origin(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        if isinstance(part, str) and part in node.model_fields:
            return node.model_fields[part].annotation
        return node if isinstance(part, str) and (part == node.__name__ or part in _tags(node)) else None
    if origin is dict and isinstance(part, str | int):
        return get_args(node)[1]
    if origin is list and isinstance(part, int):
        return get_args(node)[0]
    return None
