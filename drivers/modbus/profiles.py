"""The firmware-profile registry: every ``firmware_profiles/<vendor>/<file>.yaml``, resolved and checked.

A profile is found by its id (``vendor/file``, from the path) or by ``vendor/model`` plus the firmware
version the device reports (keyed like zigpy's quirks: an ambiguous match is an error, never a guess).
One bad file does not hide the others: its problems land in ``errors`` and the rest load.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.errors import ProfileError
from agent.yamlsource import YamlDocument, validation_problems
from drivers.modbus.profile import Profile
from drivers.modbus.profile_checks import check_profile
from drivers.modbus.profile_extends import resolve_all
from drivers.modbus.profile_firmware import describe, in_range, parse_version
from drivers.modbus.profile_source import other_drivers_profile, problem, read_profile_file

__all__ = ["DEFAULT_PROFILE_DIR", "PROFILE_DIR_ENV", "ProfileRegistry", "default_profile_dir"]

PROFILE_DIR_ENV = "EDGEPOST_PROFILE_DIR"


def _installed_dirs() -> list[Path]:
    here = Path(__file__).resolve()
    return [
        here.parents[2] / "firmware_profiles",  # source checkout or editable install
        Path(sys.prefix) / "share" / "edgepost" / "firmware_profiles",
        Path("/usr/share/edgepost/firmware_profiles"),  # the .deb
    ]


DEFAULT_PROFILE_DIR: Path = next((p for p in _installed_dirs() if p.is_dir()), _installed_dirs()[0])


def default_profile_dir() -> Path:
    """``$EDGEPOST_PROFILE_DIR`` if set, else the shipped ``firmware_profiles/``."""
    env = os.environ.get(PROFILE_DIR_ENV)
    return Path(env) if env else DEFAULT_PROFILE_DIR


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class ProfileRegistry:
    """Resolved profiles by id, plus the problems of the files that failed."""

    def __init__(self, root: Path, profiles: dict[str, Profile], problems: dict[str, list[str]] | None = None) -> None:
        self.root = root
        self._profiles = profiles
        self.problems: dict[str, list[str]] = dict(problems or {})  # by profile id ("" = the directory)

    @property
    def errors(self) -> list[str]:
        """Every problem of every file that failed, one ``file:line:col path: message`` per line."""
        return [line for key in sorted(self.problems) for line in self.problems[key]]

    @classmethod
    def load(cls, root: Path | None = None, *, strict: bool = False) -> ProfileRegistry:
        """Load every profile under ``root``. ``strict=True`` raises ``ProfileError`` on any problem."""
        root = Path(root) if root is not None else default_profile_dir()
        registry = cls(root, *_load_tree(root))
        if strict and registry.errors:
            raise ProfileError(registry.errors)
        return registry

    @classmethod
    def load_cached(cls, root: Path | None = None) -> ProfileRegistry:
        """``load(root)``, shared between callers while no ``*.yaml`` under ``root`` changed.

        The driver needs the registry at config check, open and every probe; parsing and resolving
        each time costs far more than listing the files. The key is the resolved directory; the
        files' names, sizes and mtimes decide whether the cached one is still current, so an edited
        profile is picked up by the next reload. Use ``load`` (or ``clear_cache``) to bypass it.
        """
        root = (Path(root) if root is not None else default_profile_dir()).resolve()
        fingerprint = _fingerprint(root)
        with _cache_lock:
            hit = _cache.get(root)
            if hit is not None and hit[0] == fingerprint:
                _cache.move_to_end(root)
                return hit[1]
        registry = cls.load(root)
        with _cache_lock:
            _cache[root] = (fingerprint, registry)
            _cache.move_to_end(root)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        return registry

    @staticmethod
    def clear_cache() -> None:
        with _cache_lock:
            _cache.clear()

    def ids(self) -> list[str]:
        return sorted(self._profiles)

    def all(self) -> list[Profile]:
        return [self._profiles[i] for i in self.ids()]

    def get(self, ref: str, firmware: str | None = None) -> Profile:
        """A profile by id, or by ``vendor/model`` and the firmware version the device reports.

        An id whose firmware range covers ``firmware`` (or any id, without one) is returned as is;
        otherwise ``vendor/model`` candidates are filtered by firmware. An id still wins when no
        candidate covers the firmware: a pinned profile is the operator's choice.
        """
        if firmware is not None:
            try:
                parse_version(firmware)
            except ValueError as exc:
                raise ProfileError([f"profile '{ref}': firmware {exc}"]) from None
        exact = self._profiles.get(ref)
        if exact is not None and (firmware is None or in_range(exact.firmware, firmware)):
            return exact
        candidates = self._by_model(ref)
        if firmware is not None:
            candidates = [p for p in candidates if in_range(p.firmware, firmware)]
        if not candidates:
            if exact is not None:
                return exact
            if firmware is not None and self._by_model(ref):
                raise ProfileError([f"no profile of '{ref}' covers firmware {firmware}"])
            raise ProfileError([f"unknown profile '{ref}'{self._close(ref)}"])
        if len(candidates) > 1:
            names = ", ".join(f"{p.id} ({describe(p.firmware)})" for p in candidates)
            hint = "" if firmware is not None else "; give the firmware version or a profile id"
            raise ProfileError([f"'{ref}' is ambiguous: {names}{hint}"])
        return candidates[0]

    def _by_model(self, ref: str) -> list[Profile]:
        vendor, _, model = ref.partition("/")
        return [p for p in self.all() if _slug(p.vendor) == _slug(vendor) and _slug(p.model) == _slug(model)]

    def _close(self, ref: str) -> str:
        names = sorted(set(self.ids()) | {f"{_slug(p.vendor)}/{_slug(p.model)}" for p in self.all()})
        close = difflib.get_close_matches(ref.lower(), names, n=3, cutoff=0.5)
        if not close:
            return f"; known: {', '.join(self.ids()) or 'none'}"
        return f" (did you mean {', '.join(repr(c) for c in close)}?)"


_Fingerprint = tuple[tuple[str, int, int], ...] | None
_CACHE_SIZE = 8  # profile directories kept (one in production; tests use a few)
_cache: OrderedDict[Path, tuple[_Fingerprint, ProfileRegistry]] = OrderedDict()
_cache_lock = threading.Lock()


def _fingerprint(root: Path) -> _Fingerprint:
    """Every profile file's path, mtime and size: cheap to take, changes when a profile does."""
    if not root.is_dir():
        return None
    files: list[tuple[str, int, int]] = []
    for path in sorted(root.rglob("*.yaml")):
        try:
            stat = path.stat()
        except OSError:  # removed while listing: the next call sees the new tree
            continue
        files.append((path.relative_to(root).as_posix(), stat.st_mtime_ns, stat.st_size))
    return tuple(files)


def _load_tree(root: Path) -> tuple[dict[str, Profile], dict[str, list[str]]]:
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
        except ValueError as exc:
            broken.add(profile_id)
            errors[profile_id] = [str(exc)]
            continue
        if not other_drivers_profile(doc):
            docs[profile_id] = doc
    resolved, failed = resolve_all(docs, broken)
    profiles: dict[str, Profile] = {}
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


def _validate(profile_id: str, doc: YamlDocument) -> tuple[Profile | None, list[str]]:
    data: dict[str, Any] = dict(doc.data)
    declared = data.get("id")
    if declared is not None and declared != profile_id:
        return None, [problem(doc, ["id"], f"must match the file path '{profile_id}', got {declared!r}")]
    data["id"] = profile_id
    _default_bit_types(data)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        return None, validation_problems(doc, exc)
    return profile, check_profile(profile, doc)


def _default_bit_types(data: dict[str, Any]) -> None:
    """Coil and discrete points are bool unless they say otherwise (the model's default is uint16)."""
    points = data.get("points")
    if not isinstance(points, dict):
        return
    data["points"] = {
        name: {**point, "type": "bool"}
        if isinstance(point, dict) and point.get("table") in ("coil", "discrete") and "type" not in point
        else point
        for name, point in points.items()
    }
