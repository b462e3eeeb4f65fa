"""Formatting shared by the pages and the exports: numbers, safe links, safe file names."""

from __future__ import annotations

import hashlib
import math
import re
from urllib.parse import urlparse

SAFE_URL_SCHEMES = ("http", "https")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def fmt(value: float | None) -> str:
    """A number with as many decimals as its magnitude needs to be compared by eye."""
    if value is None or not math.isfinite(value):
        return "–"
    a = abs(value)
    if abs(round(value, 1)) >= 100:  # rounded first: 0.99999 prints as 1.00, not as 1.0000 beside a 1.00
        return f"{value:.1f}"
    if abs(round(value, 4)) >= 1:
        return f"{value:.2f}"
    if a >= 0.01 or a == 0:
        return f"{value:.4f}"
    return f"{value:.3g}"


def safe_url(url: str) -> str:
    """A user-supplied URL becomes a link only with an http(s) scheme and a host; anything else gives ""."""
    try:
        text = str(url).strip()
        parsed = urlparse(text)
    except ValueError:
        return ""
    if any(ord(ch) < 32 or ch in "\\ " for ch in text):  # control characters and backslashes confuse parsers
        return ""
    return text if parsed.scheme.lower() in SAFE_URL_SCHEMES and parsed.netloc else ""


def slugify(text: str) -> str:
    """A file name safe on every file system and in a URL; a name that had to change gets a short hash suffix."""
    slug = _UNSAFE.sub("-", str(text)).strip("-.")[:60]
    if slug != text or not slug:
        slug = f"{slug or 'x'}-{hashlib.sha256(str(text).encode()).hexdigest()[:8]}"
    return slug
