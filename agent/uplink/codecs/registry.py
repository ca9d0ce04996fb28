"""Codec discovery through the ``edgepost.codecs`` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from agent.errors import ConfigError
from agent.uplink.codecs.base import Codec

GROUP = "edgepost.codecs"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def codec_names() -> list[str]:
    return sorted(_entry_points())


def load_codec_class(name: str) -> type[Codec]:
    """The codec class registered as ``name``; ``ConfigError`` naming ``uplink.codec`` if unknown."""
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(codec_names()) or "none installed"
        raise ConfigError([f"uplink.codec: no codec named {name!r} (known: {known})"])
    try:
        cls = eps[name].load()
    except ImportError as exc:
        raise ConfigError([f"uplink.codec: codec {name!r} failed to import: {exc}"]) from None
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise ConfigError([f"uplink.codec: entry point {name!r} does not name a Codec subclass"])
    return cls


def make_codec(name: str, gateway_id: str, max_payload_bytes: int, compress_historical: bool) -> Codec:
    return load_codec_class(name)(gateway_id, max_payload_bytes, compress_historical)
