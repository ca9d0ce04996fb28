"""YAML bombs and oversized input through the real ``edgepost`` command: refused with file:line, bounded.

A config of nine nested anchors of nine ("billion laughs") made ``config validate`` run past 60 s at
3.4 GB. Each entry point that reads YAML (config, firmware profiles, simulator specs, model
manifests) must refuse it at the offending alias. The time and memory bounds below are generous
safety nets (the child is killed at the deadline), not speed assertions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.security.measured import Measured, run_edgepost

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

MAX_RSS_MB = 450  # the CLI and its driver config models; the bomb once expanded to 3.4 GB


def laughs(indent: str = "", levels: int = 9, width: int = 9) -> str:
    """``l0: &l0 [lol x9]``, ``l1: &l1 [*l0 x9]``... : 9**9 strings once every alias is expanded."""
    lines = [f"{indent}l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def assert_bounded(done: Measured) -> None:
    assert not done.killed, f"still running at the deadline; rss {done.max_rss_mb:.0f} MB"
    assert done.max_rss_mb < MAX_RSS_MB, f"max rss {done.max_rss_mb:.0f} MB"
    assert "Traceback" not in done.stderr, done.stderr


def assert_names_the_alias(output: str, file: Path) -> None:
    """The message names file:line:col of an alias, and that position really holds ``*name``.

    (Profiles are named relative to their directory: the name shown must be a tail of the path.)"""
    match = re.search(rf"(\S*{re.escape(file.name)}):(\d+):(\d+):? .*alias \*(\w+) ", output)
    assert match and str(file).endswith(match[1]), output
    line, col, name = int(match[2]), int(match[3]), match[4]
    assert file.read_text().splitlines()[line - 1][col - 1 :].startswith(f"*{name}"), output


@pytest.mark.parametrize("how", ["config validate", "run"])
def test_config_alias_bomb_is_refused_at_the_alias(tmp_path: Path, how: str) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(f"gateway: {{id: pole-1}}\nstate_dir: {tmp_path / 'state'}\nanchors:\n{laughs('  ')}")
    args = ["config", "validate", str(bomb)] if how == "config validate" else ["-c", str(bomb), "run"]
    done = run_edgepost(tmp_path, *args)
    assert_bounded(done)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert_names_the_alias(done.stdout + done.stderr, bomb)
    assert not (tmp_path / "state").exists()  # the daemon stopped before touching anything


def test_config_nested_too_deep_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("gateway: {id: pole-1}\nx: " + "[" * 200_000 + "]" * 200_000 + "\n")
    done = run_edgepost(tmp_path, "config", "validate", str(deep))
    assert_bounded(done)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert re.search(rf"{re.escape(str(deep))}:2:\d+: nested more than 64 levels deep", done.stdout), done.stdout


@pytest.mark.parametrize("source", ["big file", "/dev/zero"])
def test_config_larger_than_the_limit_is_refused_unread(tmp_path: Path, source: str) -> None:
    path = Path(source)
    if source == "big file":
        path = tmp_path / "big.yaml"
        path.write_text("gateway: {id: pole-1}\n" + "# padding\n" * 300_000)  # 3 MB, valid YAML
    done = run_edgepost(tmp_path, "config", "validate", str(path))
    assert_bounded(done)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"{path}: more than the 1048576 bytes a YAML file may have" in done.stdout


def test_profile_alias_bomb_is_refused_at_the_alias(tmp_path: Path) -> None:
    profile = tmp_path / "profiles" / "acme" / "meter.yaml"
    profile.parent.mkdir(parents=True)
    profile.write_text(f"vendor: acme\nmodel: meter\nnotes:\n{laughs('  ')}")
    done = run_edgepost(tmp_path, "profile", "validate", str(tmp_path / "profiles"))
    assert_bounded(done)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert_names_the_alias(done.stdout + done.stderr, profile)


def test_simulator_spec_alias_bomb_is_refused_at_the_alias(tmp_path: Path) -> None:
    spec = tmp_path / "sim.yaml"
    spec.write_text(f"buses: []\nanchors:\n{laughs('  ')}")
    done = run_edgepost(tmp_path, "simulate", "--spec", str(spec))
    assert_bounded(done)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert_names_the_alias(done.stdout + done.stderr, spec)


def test_model_manifest_alias_bomb_is_refused_at_the_alias(tmp_path: Path) -> None:
    manifest = tmp_path / "bomb-model" / "manifest.yaml"
    manifest.parent.mkdir()
    manifest.write_text(f"name: bomb-model\nlabels:\n{laughs('  ')}")
    done = run_edgepost(tmp_path, "model", "check", str(manifest))
    assert_bounded(done)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert_names_the_alias(done.stdout + done.stderr, manifest)
