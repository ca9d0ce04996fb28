"""``edgepost`` as a subprocess: the global options before or after the subcommand, without a daemon."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.fixtures.edgepost_cli import edgepost


def test_config_show_takes_a_file_like_validate(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("gateway: {id: pole-show}\nuplink: {enabled: false, password: hunter2}\n")
    for args in (
        ("config", "show", str(site)), ("config", "show", "-c", str(site)), ("-c", str(site), "config", "show")
    ):
        done = edgepost(*args, "--json")
        assert done.returncode == 0, (args, done.stderr)
        data = orjson.loads(done.stdout)
        assert data["gateway"]["id"] == "pole-show", args
        assert "hunter2" not in done.stdout
    plain = edgepost("config", "show", str(site))
    assert plain.returncode == 0 and "id: pole-show" in plain.stdout


def test_every_position_of_the_options_reaches_the_command(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(f"gateway: {{id: pole-pos}}\nstate_dir: {tmp_path / 'state'}\n")
    sock = tmp_path / "no-daemon.sock"
    for args in (("--socket", str(sock), "sync", "now"), ("sync", "--socket", str(sock), "now"),
                 ("sync", "now", "--socket", str(sock))):
        done = edgepost(*args)
        assert done.returncode == 3, (args, done.stderr)  # 3: daemon not running, at the socket given
        assert str(sock) in done.stderr, (args, done.stderr)
    done = edgepost("config", "validate", "-c", str(site), "--json")
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["file"] == str(site)
