"""Model update over the air or from the CLI: verify, self-test in a fresh session, swap atomically.

Layout written under the models dir::

    <name>/versions/<sha16>-<ms>/{manifest.yaml, model file}
    <name>/current -> versions/<sha16>-<ms>        (a symlink replaced with os.replace)

Any failure leaves ``current`` and the live sessions as they were and returns ``ModelUpdateFailed``;
the caller turns the result into an event (``model_updated`` / ``model_update_failed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.errors import ModelError
from agent.logs import log_event
from agent.private_files import open_private, private_dir
from agent.records import Event, Priority
from drivers.camera.inference.errors import ChecksumMismatch, ManifestError, SelfTestFailed
from drivers.camera.inference.manifest import MANIFEST_NAME, PKG_PREFIX, LoadedManifest, Origin, load_manifest
from drivers.camera.inference.runner import ModelRunner, sha256_of
from drivers.camera.inference.selftest import run_self_test
from drivers.camera.inference.session import SessionSettings
from drivers.camera.inference.store import CURRENT, update_dir

logger = logging.getLogger(__name__)
KEEP_VERSIONS = 2  # current and the one before it


class SessionReplacer(Protocol):
    """What an update needs of the live sessions (``SessionPool`` is one)."""

    async def replace(self, model: str, loaded: LoadedManifest) -> int: ...


@dataclass(frozen=True, slots=True)
class ModelUpdated:
    model: str
    sha256: str
    path: Path
    sessions: int = 0

    def event(self, device: str) -> Event:
        return Event(
            device=device,
            kind="model_updated",
            data={"model": self.model, "sha256": self.sha256, "sessions": self.sessions},
        )


@dataclass(frozen=True, slots=True)
class ModelUpdateFailed:
    model: str
    reason: str

    def event(self, device: str) -> Event:
        return Event(
            device=device,
            kind="model_update_failed",
            priority=Priority.ALARM,
            data={"model": self.model, "reason": self.reason},
        )


UpdateResult = ModelUpdated | ModelUpdateFailed


@dataclass(frozen=True, slots=True)
class _Installed:
    loaded: LoadedManifest
    sha256: str
    previous: str | None  # the old symlink target, for a rollback


def _check_plain_name(loaded: LoadedManifest) -> str:
    file = loaded.manifest.file
    if file.startswith(PKG_PREFIX) or "/" in file or "\\" in file or file in {"", ".", "..", MANIFEST_NAME}:
        where = loaded.where("file")
        raise ManifestError([f"{where}: an update needs a plain file name next to the manifest, got {file!r}"])
    return file


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    with os.fdopen(open_private(path), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _stage(name: str, model_file: Path, manifest_file: Path, root: Path) -> Path:
    """Copy the candidate into a staging folder after checking its manifest and checksum."""
    candidate = load_manifest(manifest_file)
    if candidate.manifest.name != name:
        raise ManifestError([f"{candidate.where('name')}: manifest is for {candidate.manifest.name!r}, not {name!r}"])
    file_name = _check_plain_name(candidate)
    data = model_file.read_bytes()
    actual = sha256_of(data)
    if actual != candidate.manifest.sha256:
        raise ChecksumMismatch(
            f"{candidate.where('sha256')}: manifest.yaml sha256 {candidate.manifest.sha256} does not match "
            f"{model_file} (sha256 {actual})"
        )
    versions = root / "versions"
    private_dir(versions)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=versions))
    _write(staging / file_name, data)
    _write(staging / MANIFEST_NAME, manifest_file.read_bytes())
    sample = candidate.manifest.self_test.image
    if sample is not None and "/" not in sample:
        shutil.copyfile(manifest_file.parent / sample, staging / sample)
    _fsync_dir(staging)
    return staging


def _publish(root: Path, staging: Path, sha256: str) -> tuple[Path, str | None]:
    """Rename the staged folder into ``versions/`` and point ``current`` at it in one ``os.replace``."""
    final = root / "versions" / f"{sha256[:16]}-{time.time_ns() // 1_000_000}"
    os.rename(staging, final)
    link = root / CURRENT
    previous = os.readlink(link) if link.is_symlink() else None
    tmp_link = root / f".{CURRENT}-{os.getpid()}-{time.monotonic_ns()}"
    os.symlink(os.path.relpath(final, root), tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(root)
    return final, previous


def _prune(root: Path) -> None:
    current = (root / CURRENT).resolve()
    versions = sorted((p for p in (root / "versions").iterdir() if not p.name.startswith(".")), key=os.path.getmtime)
    for old in versions[:-KEEP_VERSIONS]:
        if old.resolve() != current:
            shutil.rmtree(old, ignore_errors=True)


def install(
    name: str, model_file: Path, manifest_file: Path, models_dir: Path | None = None,
    settings: SessionSettings | None = None,
) -> _Installed:
    """Blocking part: stage, load in a fresh session, self-test, publish. Raises ``ModelError``/``OSError``.

    What is tested is the staged copy (the bytes that get installed), but every message names the
    user's ``manifest_file`` and ``model_file``: the staging folder is gone by the time anyone reads it."""
    root = update_dir(models_dir) / name
    staging = _stage(name, model_file, manifest_file, root)
    published = False
    try:
        staged = load_manifest(staging / MANIFEST_NAME, Origin(manifest_file, model_file))
        runner = ModelRunner.load(staged, settings)
        run_self_test(runner)
        _, previous = _publish(root, staging, runner.sha256)
        published = True
    finally:
        if not published:  # a failed candidate leaves nothing behind
            shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):
        _prune(root)
    return _Installed(load_manifest(root / CURRENT / MANIFEST_NAME), runner.sha256, previous)


def _rollback(root: Path, previous: str | None) -> None:
    link = root / CURRENT
    if previous is None:
        link.unlink(missing_ok=True)
        return
    tmp_link = root / f".{CURRENT}-rollback-{os.getpid()}"
    os.symlink(previous, tmp_link)
    os.replace(tmp_link, link)


async def update_model(
    name: str,
    model_file: Path,
    manifest_file: Path,
    *,
    models_dir: Path | None = None,
    pool: SessionReplacer | None = None,
    settings: SessionSettings | None = None,
) -> UpdateResult:
    """Install a new model and swap the live sessions; never raises for a bad candidate."""
    try:
        installed = await asyncio.to_thread(install, name, model_file, manifest_file, models_dir, settings)
    except (ModelError, OSError) as exc:
        return _failed(name, exc)
    sessions = 0
    if pool is not None:
        try:
            sessions = await pool.replace(name, installed.loaded)
        except ModelError as exc:
            await asyncio.to_thread(_rollback, update_dir(models_dir) / name, installed.previous)
            return _failed(name, exc)
    log_event(logger, "model_updated", model=name, sha256=installed.sha256[:12], sessions=sessions)
    return ModelUpdated(name, installed.sha256, installed.loaded.folder, sessions)


def _failed(name: str, exc: BaseException) -> ModelUpdateFailed:
    reason = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
    log_event(logger, "model_update_failed", logging.WARNING, model=name, reason=reason)
    return ModelUpdateFailed(name, reason)


__all__ = [
    "ModelUpdateFailed", "ModelUpdated", "SelfTestFailed", "SessionReplacer", "UpdateResult", "install", "update_model",
]
