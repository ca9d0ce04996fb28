"""Build the SSLContext for the uplink from ``uplink.tls``; every failure is a ``TlsError``."""

from __future__ import annotations

import ssl
from typing import Any

from agent.errors import TlsError
from agent.uplink.config import TlsConfig


def build_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """Verify the broker (system CAs, or ``ca_file``) and present the client cert if configured."""
    try:
        context: ssl.SSLContext = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if tls.server_hostname is not None:
            context = _PinnedHostnameContext(ssl.PROTOCOL_TLS_CLIENT)
            context.pinned_hostname = tls.server_hostname
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if tls.ca_file is not None:
            context.load_verify_locations(cafile=str(tls.ca_file))
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if tls.cert_file is not None and tls.key_file is not None:
            context.load_cert_chain(certfile=str(tls.cert_file), keyfile=str(tls.key_file))
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise TlsError(f"uplink.tls: cannot load certificates: {exc}") from None
    return context


class _PinnedHostnameContext(ssl.SSLContext):
    """Verifies the broker against ``pinned_hostname`` instead of the host dialled (``server_hostname``)."""

    pinned_hostname: str = ""

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["server_hostname"] = self.pinned_hostname
        return super().wrap_socket(sock, *args, **kwargs)
