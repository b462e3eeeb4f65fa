"""Names that become folder names (methods, submissions): validated, never trusted.

A method card's `name` is free text and stays data (the report escapes it); only a name that is used as a path
component has to pass this check: no separators, no `..`, no leading dot or dash, nothing outside a small alphabet.
"""

from __future__ import annotations

import re

from dexbench.errors import DexbenchError

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")


def is_safe_name(name: str) -> bool:
    return bool(_SAFE.fullmatch(name)) and ".." not in name


def check_folder_name(name: str, what: str = "method name") -> str:
    if not is_safe_name(name):
        raise DexbenchError(
            f"{what} {name!r} cannot be used as a folder name",
            "use 1-64 letters, digits, '.', '_', '+' or '-', starting with a letter or digit, without '..'",
        )
    return name


def slugify(text: str, fallback: str = "submission") -> str:
    """A safe folder name derived from arbitrary text (e.g. an archive's file name)."""
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip(".-_+")
    slug = re.sub(r"\.{2,}", ".", slug)[:64].strip(".-_+")
    return slug if is_safe_name(slug) else fallback
