"""Did you mean" for an unknown profile reference: vendor and model compared apart.

Comparing whole ``vendor/model`` strings matches on shared slashes, dashes and digits
(``schneider/iem3000`` came out close to ``keller/series30``); a suggestion needs a vendor that is
close *and* a model that is close, or a model that is nearly the same under another vendor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

VENDOR_CUTOFF = 0.75
MODEL_CUTOFF = 0.6
SAME_MODEL_CUTOFF = 0.85  # the model is right, the vendor is not (or is spelt another way)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


def close_profiles(ref: str, names: Iterable[str], limit: int = 3) -> list[str]:
    """The ``vendor/model`` names closest to ``ref``, best first; none when nothing is close."""
    vendor, has_vendor, model = ref.partition("/")
    vendor, model = slug(vendor), slug(model)
    scored: list[tuple[float, str]] = []
    for name in set(names):
        known_vendor, _, known_model = name.partition("/")
        if not has_vendor:  # a bare model name ("sdm120")
            score = max(_ratio(vendor, slug(known_model)), _ratio(vendor, slug(name)))
            if score >= VENDOR_CUTOFF:
                scored.append((score, name))
            continue
        by_vendor, by_model = _ratio(vendor, slug(known_vendor)), _ratio(model, slug(known_model))
        if (by_vendor >= VENDOR_CUTOFF and by_model >= MODEL_CUTOFF) or by_model >= SAME_MODEL_CUTOFF:
            scored.append((by_vendor + by_model, name))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [name for _, name in scored[:limit]]


def same_vendor(ref: str, names: Iterable[str]) -> list[str]:
    """Names whose vendor is exactly the one ``ref`` gives (to list what that vendor has)."""
    vendor, _, _ = ref.partition("/")
    return sorted({n for n in names if slug(n.partition("/")[0]) == slug(vendor)})
