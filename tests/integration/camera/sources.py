"""Camera sources that fail to open, for real, on loopback: an HTTP server answering 401/404 for an MJPEG
URL, a closed port (refused) and a port that accepts and never answers (timeout)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RefusingHandler(BaseHTTPRequestHandler):
    """``/private/...`` wants a password (401), anything else does not exist (404)."""

    def do_GET(self) -> None:
        if self.path.startswith("/private/"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="camera"')
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass(frozen=True)
class FailingSources:
    unauthorized: str
    not_found: str
    refused: str
    timeout: str


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def failing_sources() -> Iterator[FailingSources]:
    http = ThreadingHTTPServer(("127.0.0.1", 0), RefusingHandler)
    http.daemon_threads = True
    http_thread = threading.Thread(target=http.serve_forever, daemon=True)
    http_thread.start()
    silent = socket.socket()  # accepts (the kernel completes the handshake) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        base = f"http://127.0.0.1:{http.server_address[1]}"
        yield FailingSources(
            unauthorized=f"{base}/private/stream.mjpg",
            not_found=f"{base}/nothing/here.mjpg",
            refused=f"http://127.0.0.1:{closed_port()}/stream.mjpg",
            timeout=f"http://127.0.0.1:{silent.getsockname()[1]}/stream.mjpg",
        )
    finally:
        silent.close()
        http.shutdown()
        http.server_close()
        http_thread.join(5)
