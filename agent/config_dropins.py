"""``conf.d/*.yaml`` drop-ins merged over the main config file; every value keeps its own file:line.

Where: the ``conf.d`` directory beside the main file (``/etc/edgepost/conf.d`` for
``/etc/edgepost/config.yaml``). Its ``*.yaml`` files are merged in the byte order of their names
(``10-site.yaml`` before ``50-meters.yaml``); other names (``*.dpkg-dist``, editor backups, a
README) are ignored, and so is a missing directory.

The merge rule (a provisioning tool adds or changes one thing with one file):

- mappings are merged key by key, recursively; a scalar or a list in a later file replaces the
  earlier value;
- lists are replaced whole, except the top-level ``drivers:`` list, merged by ``name``: an entry
  whose name is already there is merged into that entry by the same rules (so a drop-in can
  change one driver's ``devices:`` list), an entry with a new name is appended;
- an empty file changes nothing; a file that is not a mapping is an error.

An error names the file and line that set the value (the drop-in's, or the main file's).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.yamlsource import PathKey, YamlDocument, load_yaml_file

DROPIN_DIR = "conf.d"
DROPIN_SUFFIX = ".yaml"
MERGED_BY_NAME: PathKey = ("drivers",)


@dataclass
class MergedDocument(YamlDocument):
    """A ``YamlDocument`` whose nodes come from several files: ``where`` names each node's own file."""

    sources: dict[PathKey, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def where(self, path: Sequence[str | int]) -> str:
        key = tuple(path)
        while key and key not in self.positions:
            key = key[:-1]
        line, col = self.positions.get(key, (1, 1))
        return f"{self.sources.get(key, self.source)}:{line}:{col}"


def dropin_files(config_path: Path) -> list[Path]:
    folder = config_path.parent / DROPIN_DIR
    if not folder.is_dir():
        return []
    try:
        names = [p for p in folder.iterdir() if p.name.endswith(DROPIN_SUFFIX) and p.is_file()]
    except OSError as exc:  # e.g. a conf.d the agent's user may not read: say so, never skip it
        raise ValueError(f"{folder}: cannot read: {exc.strerror or exc}") from None
    return sorted(names, key=lambda p: p.name.encode())


def load_with_dropins(config_path: Path) -> YamlDocument:
    """The main file merged with its drop-ins; ``ValueError`` (``file:line:col: ...``) for bad YAML."""
    main = load_yaml_file(config_path)
    dropins = dropin_files(config_path)  # after the main file: its own errors come first
    if not dropins:
        return main
    merged = MergedDocument(source=main.source, data=copy.deepcopy(main.data), files=[main.source])
    _take(merged, main, (), ())
    for path in dropins:
        doc = load_yaml_file(path)
        merged.files.append(doc.source)
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict) or not isinstance(merged.data, dict):
            where = doc.where(()) if not isinstance(doc.data, dict) else main.where(())
            raise ValueError(f"{where}: a config drop-in and the file it is merged into must be mappings")
        _merge_mapping(merged, merged.data, (), doc, doc.data, ())
    return merged


def _take(merged: MergedDocument, doc: YamlDocument, src: PathKey, dst: PathKey) -> None:
    """Positions of ``doc``'s node at ``src`` (and below) now describe the merged node at ``dst``."""
    for key in [k for k in merged.positions if k[: len(dst)] == dst]:
        del merged.positions[key]
        merged.sources.pop(key, None)
    for key, position in doc.positions.items():
        if key[: len(src)] == src:
            target = (*dst, *key[len(src) :])
            merged.positions[target] = position
            merged.sources[target] = doc.source


def _mark(merged: MergedDocument, doc: YamlDocument, src: PathKey, dst: PathKey) -> None:
    """The merged node at ``dst`` was last touched by ``doc`` at ``src`` (its children keep theirs)."""
    if src in doc.positions:
        merged.positions[dst] = doc.positions[src]
        merged.sources[dst] = doc.source


def _merge_mapping(
    merged: MergedDocument, target: dict[str, Any], dst: PathKey, doc: YamlDocument, overlay: dict[str, Any],
    src: PathKey,
) -> None:
    for key, value in overlay.items():
        here, there = (*dst, key), (*src, key)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _mark(merged, doc, there, here)
            _merge_mapping(merged, target[key], here, doc, value, there)
        elif here == MERGED_BY_NAME and isinstance(value, list) and isinstance(target.get(key), list):
            _mark(merged, doc, there, here)
            _merge_by_name(merged, target[key], here, doc, value, there)
        else:
            target[key] = copy.deepcopy(value)
            _take(merged, doc, there, here)


def _merge_by_name(
    merged: MergedDocument, target: list[Any], dst: PathKey, doc: YamlDocument, overlay: list[Any], src: PathKey
) -> None:
    for index, entry in enumerate(overlay):
        name = entry.get("name") if isinstance(entry, dict) else None
        match = next(
            (i for i, old in enumerate(target) if isinstance(name, str) and isinstance(old, dict)
             and old.get("name") == name),
            None,
        )
        if match is not None and isinstance(entry, dict):
            _mark(merged, doc, (*src, index), (*dst, match))
            _merge_mapping(merged, target[match], (*dst, match), doc, entry, (*src, index))
        else:
            target.append(copy.deepcopy(entry))
            _take(merged, doc, (*src, index), (*dst, len(target) - 1))
