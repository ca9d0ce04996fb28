"""A real mosquitto: free loopback ports, its own config, optional TLS, restartable on the same ports.

``stop()`` then ``start()`` restarts it on the same ports (outages). With ``persistence=True`` a
persistent subscriber session survives the restart; ``wipe_sessions()`` between stop and start
throws every session away (a broker that lost its disk). ``present(cert)`` makes the TLS listener
present another server certificate from the next start on (the TLS faults).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

from rig.errors import PoleError, ToolMissing
from rig.pole.certs import Certs, ServerCert, make_certs
from rig.pole.collector import Collector
from rig.pole.ports import free_port, port_open

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Mosquitto:
    """One mosquitto process on fixed free loopback ports, restartable on the same ports."""

    def __init__(
        self,
        workdir: Path,
        tls: bool = False,
        persistence: bool = False,
        acl: str | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir) / f"mosquitto-{uuid.uuid4().hex[:6]}"
        self.workdir.mkdir(parents=True)
        self.port = free_port()
        self.tls_port: int | None = free_port() if tls else None
        self.certs: Certs | None = make_certs(self.workdir / "certs") if tls else None
        self.presented: ServerCert | None = (
            ServerCert(self.certs.server_cert, self.certs.server_key) if self.certs else None
        )
        self.persistence = persistence
        self.acl = acl  # mosquitto acl_file text (e.g. "topic deny a/b\ntopic readwrite #"), or None
        self.users = users  # username -> password; when given, anonymous clients are refused
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        lines = [
            "user root",
            f"allow_anonymous {'false' if self.users else 'true'}",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "max_queued_messages 0",
            "max_inflight_messages 0",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.users:
            password_file = self.workdir / "passwords"
            password_file.write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))
            subprocess.run(["mosquitto_passwd", "-U", str(password_file)], check=True, capture_output=True)
            lines.append(f"password_file {password_file}")
        if self.acl is not None:
            acl_file = self.workdir / "acl"
            acl_file.write_text(self.acl + "\n")
            lines.append(f"acl_file {acl_file}")
        lines.append(f"listener {self.port} 127.0.0.1")
        if self.certs is not None and self.presented is not None:
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.certs.ca}",
                f"certfile {self.presented.cert}",
                f"keyfile {self.presented.key}",
                "require_certificate true",
            ]
        return "\n".join(lines) + "\n"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def present(self, cert: ServerCert | None) -> None:
        """Serve ``cert`` on the TLS listener from the next start (None: the good one again)."""
        if self.certs is None:
            raise PoleError("this broker has no TLS listener")
        self.presented = cert or ServerCert(self.certs.server_cert, self.certs.server_key)

    def wipe_sessions(self) -> None:
        """Forget every persistent session and queued message (only while stopped)."""
        if self.running:
            raise PoleError("stop the broker before wiping its sessions")
        for db in self.workdir.glob("mosquitto.db*"):
            db.unlink()

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        if not Path(MOSQUITTO).exists():
            raise ToolMissing("mosquitto is not installed (apt-get install mosquitto)")
        self.conf.write_text(self._config())
        with open(self.workdir / "stderr.log", "ab") as err:
            self._proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        ports = [p for p in (self.port, self.tls_port) if p is not None]
        while not all(port_open(p) for p in ports):
            if self._proc.poll() is not None:
                log = (self.workdir / "stderr.log").read_text()
                log += self.log.read_text() if self.log.exists() else ""
                raise PoleError(f"mosquitto exited with {self._proc.returncode}: {log[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise PoleError("mosquitto did not open its ports")
            time.sleep(0.05)

    def stop(self) -> None:
        """Graceful stop (SIGTERM; persistence, when on, is written out)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def collector(self, topic: str = "#", persistent: bool = False) -> Collector:
        return Collector(self.port, topic, persistent=persistent)

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
