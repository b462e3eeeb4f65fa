"""The dataset recipes, by name. Entries are lazy `module:attr` strings so listing them imports nothing heavy;
third-party packages add recipes through the `dexbench.recipes` entry-point group."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from dexbench.errors import DexbenchError

GROUP = "dexbench.recipes"

BUILTIN: dict[str, str] = {
    "synthheads": "dexbench.data.recipes.synthheads:RECIPE",
    "voxceleb1": "dexbench.data.recipes.voxceleb:VOXCELEB1",
    "voxceleb2": "dexbench.data.recipes.voxceleb:VOXCELEB2",
    "hdtf": "dexbench.data.recipes.hdtf:HDTF",
    "celebvhq": "dexbench.data.recipes.celebvhq:CELEBVHQ",
    "talkinghead1kh": "dexbench.data.recipes.talkinghead1kh:TALKINGHEAD1KH",
    "folder": "dexbench.data.recipes.folder:FOLDER",
}


def available() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep.value)
    return dict(sorted(found.items()))


def load_recipe(name: str) -> Any:
    recipes = available()
    if name not in recipes:
        raise DexbenchError(f"unknown dataset recipe {name!r}", f"available recipes: {', '.join(recipes)}")
    module, _, attr = recipes[name].partition(":")
    try:
        return getattr(import_module(module), attr)
    except Exception as exc:  # a broken plug-in must not take the whole tool down with a traceback
        raise DexbenchError(f"recipe {name!r} failed to load from {recipes[name]}: {exc}") from exc
