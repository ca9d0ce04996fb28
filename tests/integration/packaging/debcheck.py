"""Checks of a built .deb shared by test_deb.py (edgepost) and test_deb_camera.py (edgepost-camera)."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import subprocess
from pathlib import Path

SITE_PACKAGES = re.compile(r"^opt/edgepost(-camera)?/lib/python3\.11/site-packages/")
OWN_CODE = re.compile(r"^opt/edgepost/lib/python3\.11/site-packages/(agent|drivers|edgepost-[^/]*\.dist-info)/")


def dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], check=True, capture_output=True, text=True, timeout=300).stdout


def field(deb: Path, name: str) -> str:
    return dpkg_deb("-f", str(deb), name).strip()


def files_of(root: Path) -> list[str]:
    """Regular files of an unpacked package, relative (``opt/edgepost/...``), symlinks left out."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def md5sums_problems(root: Path, control: Path) -> list[str]:
    """Every shipped file outside /etc (conffiles have their own hashes) listed, and with its md5."""
    listed = {}
    for line in (control / "md5sums").read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    problems = []
    for name in files_of(root):
        if name.startswith("etc/"):
            continue
        if name not in listed:
            problems.append(f"{name}: not in md5sums")
        elif hashlib.md5((root / name).read_bytes()).hexdigest() != listed[name]:
            problems.append(f"{name}: md5 differs")
    problems += [f"{name}: in md5sums, not in the package" for name in listed if not (root / name).is_file()]
    return problems


def copyright_stanzas(text: str) -> list[tuple[list[str], str]]:
    """(Files: patterns, License:) of each DEP-5 files paragraph, in order."""
    stanzas = []
    for paragraph in re.split(r"\n\s*\n", text):
        match = re.search(r"^Files:(.*?)(?=^\S)", paragraph + "\nEnd:", re.MULTILINE | re.DOTALL)
        licence = re.search(r"^License: *(.+)$", paragraph, re.MULTILINE)
        if match and licence:
            stanzas.append((match.group(1).split(), licence.group(1).strip()))
    return stanzas


def uncovered_by_copyright(root: Path, text: str) -> list[str]:
    """Bundled files (site-packages, embedded libraries) whose last matching stanza is only ``Files: *``.

    DEP-5: the last paragraph that matches a file applies. ``*`` is edgepost's own code; a third-party
    wheel falling through to it has no stanza of its own.
    """
    stanzas = copyright_stanzas(text)
    uncovered = set()
    for name in files_of(root):
        if not SITE_PACKAGES.match(name) or OWN_CODE.match(name):
            continue
        matches = [patterns for patterns, _ in stanzas if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
        if not matches or matches[-1] == ["*"]:
            top = "/".join(name.split("/")[:6])  # opt/edgepost*/lib/python3.11/site-packages/<top>
            uncovered.add(top)
    return sorted(uncovered)


def newest_glibc_symbol(root: Path) -> tuple[int, int, str]:
    """The newest ``GLIBC_x.y`` symbol version any ELF file of the package needs, and which file."""
    newest = (0, 0, "")
    for name in files_of(root):
        path = root / name
        with path.open("rb") as file:
            if file.read(4) != b"\x7fELF":
                continue
        dump = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True, timeout=120).stdout
        for major, minor in re.findall(r"\(GLIBC_(\d+)\.(\d+)\)", dump):
            newest = max(newest, (int(major), int(minor), name))
    return newest


def lintian(deb: Path) -> list[str]:
    """Lintian's tags that are not overridden, plus overrides that match nothing (stale excuses)."""
    done = subprocess.run(
        ["lintian", "--tag-display-limit", "0", "--info", "--display-info", str(deb)],
        capture_output=True, text=True, timeout=1800,
    )
    found = [line for line in done.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    found += [line for line in done.stdout.splitlines() if "unused-override" in line or "mismatched-override" in line]
    return found
