"""Credentials out of a URL before it is shown, logged or put in a status or support bundle.

The whole userinfo is masked, not just a password: a camera or broker URL often carries an API
token as its user name (``rtsp://apitoken@cam/stream``).
"""

from __future__ import annotations

import re

MASK = "***"

# The authority ends at the first '/', '?' or '#'; its userinfo ends at the last '@' in it
# (an unencoded '@' in a password is common in configs and FFMPEG reads it the same way).
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/?#\s]*@", re.IGNORECASE)


def redact_url(url: str | int) -> str:
    """``rtsp://user:pw@cam/s`` and ``rtsp://token@cam/s`` -> ``rtsp://***@cam/s``.

    Anything without userinfo (a plain URL, a file path, a V4L2 device index) comes back as text.
    """
    return _USERINFO.sub(rf"\g<1>{MASK}@", str(url), count=1)
