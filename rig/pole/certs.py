"""Test PKI made with openssl: a CA, server/client certs, an unrelated CA, and the bad server certs
the TLS faults present (signed by another CA, expired, self-signed for another name)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rig.errors import ToolMissing

EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")  # fast to generate, unlike RSA


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    wrong_ca: Path  # a CA that signed nothing the broker presents


@dataclass(frozen=True)
class ServerCert:
    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path, faketime: str | None = None) -> None:
    if shutil.which("openssl") is None:
        raise ToolMissing("openssl is not installed (apt-get install openssl)")
    prefix: list[str] = []
    if faketime is not None:
        tool = shutil.which("faketime")
        if tool is None:
            raise ToolMissing("faketime is not installed (apt-get install faketime)")
        prefix = [tool, faketime]
    subprocess.run([*prefix, "openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(d: Path, name: str) -> tuple[Path, Path]:
    key, crt = d / f"{name}.key", d / f"{name}.crt"
    _openssl("req", "-x509", *EC_KEY, "-nodes", "-keyout", str(key), "-out", str(crt),
             "-days", "2", "-subj", f"/CN={name}", cwd=d)
    return crt, key


def _sign(d: Path, name: str, ca: tuple[Path, Path], ext: str, days: int = 2,
          faketime: str | None = None) -> tuple[Path, Path]:
    key, csr, crt, extfile = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt", d / f"{name}.ext"
    extfile.write_text(ext)
    _openssl("req", *EC_KEY, "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}", cwd=d)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
             "-out", str(crt), "-days", str(days), "-extfile", str(extfile), cwd=d, faketime=faketime)
    return crt, key


SERVER_EXT = "subjectAltName=IP:127.0.0.1,DNS:localhost\n"


def make_certs(d: Path) -> Certs:
    """A test CA, a server cert for 127.0.0.1/localhost, a client cert, and an unrelated CA."""
    d.mkdir(parents=True, exist_ok=True)
    ca = _make_ca(d, "ca")
    server = _sign(d, "server", ca, SERVER_EXT)
    client = _sign(d, "client", ca, "extendedKeyUsage=clientAuth\n")
    wrong, _ = _make_ca(d, "wrong-ca")
    return Certs(ca=ca[0], server_cert=server[0], server_key=server[1],
                 client_cert=client[0], client_key=client[1], wrong_ca=wrong)


def bad_server_cert(d: Path, certs: Certs, variant: str) -> ServerCert:
    """A server cert the agent must refuse: ``wrong_ca`` (another CA signed it), ``expired`` (right CA,
    validity ended years ago) or ``bad`` (self-signed, for another host name)."""
    d.mkdir(parents=True, exist_ok=True)
    if variant == "wrong_ca":
        other = (d / "wrong-ca.crt", d / "wrong-ca.key")
        if not other[0].exists():
            other = _make_ca(d, "wrong-ca")
        crt, key = _sign(d, "server-wrong-ca", other, SERVER_EXT)
    elif variant == "expired":
        ca = (certs.ca, certs.ca.with_suffix(".key"))
        crt, key = _sign(d, "server-expired", ca, SERVER_EXT, days=1, faketime="2020-01-01 00:00:00")
    elif variant == "bad":
        key, crt = d / "server-bad.key", d / "server-bad.crt"
        _openssl("req", "-x509", *EC_KEY, "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2",
                 "-subj", "/CN=not-this-pole.invalid", cwd=d)
    else:
        raise ValueError(f"unknown bad certificate variant {variant!r}")
    return ServerCert(crt, key)
