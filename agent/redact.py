"""Credentials out of a URL before it is shown, logged or put in a status, birth or support bundle.

Two places in a URL carry secrets, and both are masked by the one function every path uses:

- the whole userinfo, not just a password: a camera or broker URL often carries an API token as its
  user name (``rtsp://apitoken@cam/stream``);
- query and fragment parameters whose name, lower-cased and percent-decoded, equals or ends with
  one of ``SECRET_PARAM_WORDS`` (``password``, ``api_key``, ``access_token``, ``X-Amz-Signature``,
  ``rtspauth``...). A longer name ending in such a word is masked too: hiding a harmless value
  costs nothing, showing a password costs the camera.

URLs are found anywhere in the text, so an error message quoting a URL is masked as well.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

MASK = "***"

SECRET_PARAM_WORDS = (
    "password", "passwd", "pass", "pwd", "token", "key", "secret", "auth", "signature", "sig", "credential",
)
_SECRET_PARAM = re.compile("(?:" + "|".join(SECRET_PARAM_WORDS) + ")$")

# A URL runs from its scheme to the next whitespace or quote. The authority ends at the first
# '/', '?' or '#'; its userinfo ends at the last '@' in it (an unencoded '@' in a password is
# common in configs and FFMPEG reads it the same way).
_URL = re.compile(r"(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*://)([^\s\"'<>]*)", re.IGNORECASE)
_AUTHORITY_END = re.compile(r"[/?#]")
_PARAM = re.compile(r"([?&;#])([^=&;#?]+)=([^&;#]*)")


def redact_url(url: str | int) -> str:
    """``rtsp://user:pw@cam/s?token=t`` -> ``rtsp://***@cam/s?token=***``, for every URL in the text.

    Anything without credentials (a plain URL, a file path, a V4L2 device index) comes back as text.
    """
    return _URL.sub(_mask_one, str(url))


def _mask_one(match: re.Match[str]) -> str:
    scheme, rest = match.group(1), match.group(2)
    end = _AUTHORITY_END.search(rest)
    cut = end.start() if end else len(rest)
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        authority = MASK + authority[authority.rindex("@") :]
    return scheme + authority + _PARAM.sub(_mask_param, tail)


def _mask_param(match: re.Match[str]) -> str:
    sep, name, value = match.group(1), match.group(2), match.group(3)
    if value and is_secret_param(name):
        value = MASK
    return f"{sep}{name}={value}"


def is_secret_param(name: str) -> bool:
    """Does a query parameter of this name hold a credential? (the rule in the module docstring)"""
    return _SECRET_PARAM.search(unquote_plus(name).strip().lower()) is not None
