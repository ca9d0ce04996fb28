"""The firmware-profile registry: every ``<dir>/<vendor>/<file>.yaml`` of the search path, resolved and checked.

The search path is ``$EDGEPOST_PROFILE_DIR`` (``:``-separated), then the site directories (the
config's ``profile_dirs:``, by default ``/etc/edgepost/profiles``), then the shipped
``firmware_profiles/``. The first directory that has an id wins: a site profile overrides the
shipped one of the same id, and a site variant may ``extends:`` a shipped profile.

A profile is found by its id (``vendor/file``, from the path) or by ``vendor/model`` plus the firmware
version the device reports (keyed like zigpy's quirks: an ambiguous match is an error, never a guess).
One bad file does not hide the others: its problems land in ``errors`` and the rest load.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from agent.errors import ProfileError
from agent.yamlsource import YamlDocument
from drivers.modbus.profile import Profile
from drivers.modbus.profile_extends import resolve_all
from drivers.modbus.profile_firmware import describe, in_range, parse_version
from drivers.modbus.profile_source import other_drivers_profile, read_profile_file
from drivers.modbus.profile_suggest import close_profiles, same_vendor, slug
from drivers.modbus.profile_validate import sort_problems, validate_profile

__all__ = [
    "DEFAULT_PROFILE_DIR",
    "PROFILE_DIR_ENV",
    "SITE_PROFILE_DIR",
    "ProfileRegistry",
    "profile_search_path",
]

PROFILE_DIR_ENV = "EDGEPOST_PROFILE_DIR"
SITE_PROFILE_DIR = Path("/etc/edgepost/profiles")  # searched by default; a missing one is fine


def _installed_dirs() -> list[Path]:
    here = Path(__file__).resolve()
    return [
        here.parents[2] / "firmware_profiles",  # source checkout or editable install
        Path(sys.prefix) / "share" / "edgepost" / "firmware_profiles",
        Path("/usr/share/edgepost/firmware_profiles"),  # the .deb
    ]


DEFAULT_PROFILE_DIR: Path = next((p for p in _installed_dirs() if p.is_dir()), _installed_dirs()[0])


def profile_search_path(site_dirs: Sequence[Path] | None = None) -> list[Path]:
    """``$EDGEPOST_PROFILE_DIR`` dirs, then ``site_dirs`` (None: ``/etc/edgepost/profiles``), then the shipped dir."""
    env = [Path(part) for part in os.environ.get(PROFILE_DIR_ENV, "").split(":") if part]
    site = [SITE_PROFILE_DIR] if site_dirs is None else list(site_dirs)
    ordered: dict[Path, None] = {}
    for path in [*env, *site, DEFAULT_PROFILE_DIR]:
        ordered.setdefault(path, None)
    return list(ordered)


def _dirs(root: Path | Sequence[Path] | None, site_dirs: Sequence[Path] | None) -> list[Path]:
    if root is None:
        return profile_search_path(site_dirs)
    return [Path(root)] if isinstance(root, str | Path) else [Path(p) for p in root]


class ProfileRegistry:
    """Resolved profiles by id, where each came from, plus the problems of the files that failed."""

    def __init__(
        self,
        root: Path | Sequence[Path],
        profiles: dict[str, Profile],
        problems: dict[str, list[str]] | None = None,
        origins: dict[str, Path] | None = None,
        shadowed: dict[str, list[Path]] | None = None,
    ) -> None:
        self.dirs: list[Path] = [Path(root)] if isinstance(root, str | Path) else [Path(p) for p in root]
        self.root = self.dirs[0] if self.dirs else DEFAULT_PROFILE_DIR
        self._profiles = profiles
        self.problems: dict[str, list[str]] = dict(problems or {})  # by profile id ("" = the directories)
        self.origins: dict[str, Path] = dict(origins or {})  # the file each id was read from
        self.shadowed: dict[str, list[Path]] = dict(shadowed or {})  # files of the same id further down

    @property
    def errors(self) -> list[str]:
        """Every problem of every file that failed, one ``file:line:col path: message`` per line."""
        return [line for key in sorted(self.problems) for line in self.problems[key]]

    @classmethod
    def load(
        cls,
        root: Path | Sequence[Path] | None = None,
        *,
        site_dirs: Sequence[Path] | None = None,
        strict: bool = False,
    ) -> ProfileRegistry:
        """Load every profile of ``root`` (one dir or several, first wins), by default the search path.

        ``site_dirs`` replaces ``/etc/edgepost/profiles`` in the search path (the config's
        ``profile_dirs``). ``strict=True`` raises ``ProfileError`` on any problem.
        """
        dirs = _dirs(root, site_dirs)
        registry = cls(dirs, *_load_tree(dirs))
        if strict and registry.errors:
            raise ProfileError(registry.errors)
        return registry

    @classmethod
    def load_cached(
        cls, root: Path | Sequence[Path] | None = None, *, site_dirs: Sequence[Path] | None = None
    ) -> ProfileRegistry:
        """``load(root)``, shared between callers while no ``*.yaml`` under its directories changed.

        The driver needs the registry at config check, open and every probe; parsing and resolving
        each time costs far more than listing the files. The key is the resolved directories; the
        files' names, sizes and mtimes decide whether the cached one is still current, so an edited
        profile is picked up by the next reload. Use ``load`` (or ``clear_cache``) to bypass it.
        """
        dirs = tuple(path.resolve() for path in _dirs(root, site_dirs))
        fingerprint = tuple(_fingerprint(path) for path in dirs)
        with _cache_lock:
            hit = _cache.get(dirs)
            if hit is not None and hit[0] == fingerprint:
                _cache.move_to_end(dirs)
                return hit[1]
        registry = cls.load(list(dirs))
        with _cache_lock:
            _cache[dirs] = (fingerprint, registry)
            _cache.move_to_end(dirs)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        return registry

    @staticmethod
    def clear_cache() -> None:
        with _cache_lock:
            _cache.clear()

    def origin(self, profile_id: str) -> Path | None:
        """The file the profile was read from."""
        return self.origins.get(profile_id)

    def searched(self) -> str:
        """The directories searched, in order, for messages."""
        return ", ".join(f"{d}{'' if d.is_dir() else ' (missing)'}" for d in self.dirs) or "none"

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
            raise ProfileError([f"unknown profile '{ref}'{self._close(ref)}; searched {self.searched()}"])
        if len(candidates) > 1:
            names = ", ".join(f"{p.id} ({describe(p.firmware)})" for p in candidates)
            hint = "" if firmware is not None else "; give the firmware version or a profile id"
            raise ProfileError([f"'{ref}' is ambiguous: {names}{hint}"])
        return candidates[0]

    def _by_model(self, ref: str) -> list[Profile]:
        vendor, _, model = ref.partition("/")
        return [p for p in self.all() if slug(p.vendor) == slug(vendor) and slug(p.model) == slug(model)]

    def _close(self, ref: str) -> str:
        names = set(self.ids()) | {f"{slug(p.vendor)}/{slug(p.model)}" for p in self.all()}
        close = close_profiles(ref, names)
        if close:
            return f" (did you mean {', '.join(repr(c) for c in close)}?)"
        siblings = same_vendor(ref, self.ids())
        return f" ({ref.partition('/')[0]} has {', '.join(siblings)})" if siblings else ""


_Fingerprint = tuple[tuple[str, int, int], ...] | None
_CACHE_SIZE = 8  # search paths kept (one in production; tests use a few)
_cache: OrderedDict[tuple[Path, ...], tuple[tuple[_Fingerprint, ...], ProfileRegistry]] = OrderedDict()
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


def _label(root: Path, path: Path) -> str:
    """How messages name a file: the shipped ones as ``firmware_profiles/...``, a site's by full path."""
    if root.resolve() == DEFAULT_PROFILE_DIR.resolve():
        return f"{root.name}/{path.relative_to(root).as_posix()}"
    return str(path)


_Tree = tuple[dict[str, Profile], dict[str, list[str]], dict[str, Path], dict[str, list[Path]]]


def _load_tree(dirs: list[Path]) -> _Tree:
    """Profiles of every dir (the first dir with an id wins), their problems, files and shadowed files."""
    docs: dict[str, YamlDocument] = {}
    seen: dict[str, Path] = {}  # every id of the tree, other drivers' included: the first dir wins for all
    origins: dict[str, Path] = {}  # the Modbus profiles (and unreadable files) only
    shadowed: dict[str, list[Path]] = {}
    broken: set[str] = set()
    errors: dict[str, list[str]] = {}
    for root in dirs:
        if not root.is_dir():
            if root != SITE_PROFILE_DIR:
                errors.setdefault("", []).append(f"{root}: profile directory does not exist")
            continue
        for path in sorted(root.rglob("*.yaml")):
            profile_id = path.relative_to(root).with_suffix("").as_posix()
            if profile_id in seen:
                if profile_id in origins:
                    shadowed.setdefault(profile_id, []).append(path)
                continue
            seen[profile_id] = path
            try:
                doc = read_profile_file(path, _label(root, path))
            except ValueError as exc:
                origins[profile_id] = path
                broken.add(profile_id)
                errors[profile_id] = [str(exc)]
                continue
            if not other_drivers_profile(doc):  # the tree is shared with other drivers' profiles
                origins[profile_id] = path
                docs[profile_id] = doc
    resolved, failed = resolve_all(docs, broken)
    profiles: dict[str, Profile] = {}
    for profile_id in sorted(docs):
        problems = list(failed.get(profile_id, []))
        profile = None
        if profile_id in resolved:
            profile, found = validate_profile(profile_id, resolved[profile_id])
            problems += found
        if problems:
            errors[profile_id] = sort_problems(problems)
        elif profile is not None:
            profiles[profile_id] = profile
    return profiles, errors, origins, shadowed
