"""Upstream payload codecs (``edgepost.codecs`` entry points)."""

from agent.uplink.codecs.base import Codec, EncodedBatch
from agent.uplink.codecs.registry import codec_names, load_codec_class, make_codec

__all__ = ["Codec", "EncodedBatch", "codec_names", "load_codec_class", "make_codec"]
