"""Find methods by name through the `dexbench.methods` entry-point group.

Built-in baselines register through dexbench's own pyproject exactly as an external package would, so a plug-in
method needs nothing but an entry point: `[project.entry-points."dexbench.methods"] mymethod = "pkg.mod:MyAnimator"`.
Entries are loaded lazily: listing methods imports nothing.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from dexbench.errors import DexbenchError
from dexbench.methods.animator import Animator
from dexbench.protocol.names import is_safe_name

GROUP = "dexbench.methods"

# Fallback for source trees run without installation (entry points come from the installed metadata).
_BUILTIN = {
    "static": "dexbench.methods.bounds:StaticAnimator",
    "driving": "dexbench.methods.bounds:DrivingAnimator",
    "rts-warp": "dexbench.methods.rts_warp:RtsWarpAnimator",
    "landmark-warp": "dexbench.methods.landmark_warp:LandmarkWarpAnimator",
}


def available() -> dict[str, EntryPoint]:
    # a plug-in whose name could not be a folder name (submissions/<dataset>/<method>) is left out, not trusted
    found = {ep.name: ep for ep in entry_points(group=GROUP) if is_safe_name(ep.name)}
    for name, value in _BUILTIN.items():
        found.setdefault(name, EntryPoint(name=name, value=value, group=GROUP))
    return dict(sorted(found.items()))


def load_method(name: str, **params: object) -> Animator:
    methods = available()
    if name not in methods:
        raise DexbenchError(f"unknown method {name!r}", f"installed methods: {', '.join(methods)}")
    try:
        cls = methods[name].load()
    except Exception as exc:  # a broken plug-in must not take the whole tool down with a traceback
        raise DexbenchError(f"method {name!r} failed to load from {methods[name].value}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Animator)):
        raise DexbenchError(f"method {name!r} ({methods[name].value}) is not an Animator subclass")
    return cls(**params)
