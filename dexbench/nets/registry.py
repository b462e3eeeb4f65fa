"""The weights registry (the weights policy of DESIGN.md).

Every pretrained network has one entry: what it is for, the file it needs, that file's sha256 (None where several
releases are in use: the digest is then recorded, not checked), where the file comes from and its licence.
Resolution order, first hit wins:
  1. an explicit path (CLI option or config),
  2. the directory named by DEXBENCH_WEIGHTS (the file by its name, or inside a sub-folder named after the net),
  3. the installed package that ships the file,
  4. the tool's usual cache (~/.insightface/models/..., $TORCH_HOME/hub/checkpoints, ...),
and otherwise WeightsUnavailable, whose message names the file, its sha256 and how to obtain it. Nothing is ever
downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dexbench.errors import DexbenchError


class WeightsUnavailable(DexbenchError):
    """A network's weights could not be found offline; metrics that need it report *unavailable (reason)*."""

    def __init__(self, net: str, reason: str, hint: str) -> None:
        super().__init__(f"weights for {net!r} unavailable: {reason}", hint)
        self.net = net
        self.reason = reason


@dataclass(frozen=True)
class NetSpec:
    name: str
    purpose: str
    filename: str
    sha256: str | None
    license: str
    source: str  # human-readable origin: the package that ships it, or the public release it comes from
    package: str | None = None  # importable package that ships the file
    package_path: str | None = None  # path of the file inside that package
    cache_paths: tuple[str, ...] = ()  # the tool's usual cache locations (~ and $VARS expanded)
    how_to_obtain: str = ""

    def candidates(self, explicit: str | Path | None = None) -> list[tuple[str, Path]]:
        found: list[tuple[str, Path]] = []
        if explicit is not None:
            found.append(("explicit path", Path(explicit).expanduser()))
        env = os.environ.get("DEXBENCH_WEIGHTS")
        if env:
            root = Path(env).expanduser()
            found += [
                ("DEXBENCH_WEIGHTS", root / self.filename),
                ("DEXBENCH_WEIGHTS", root / self.name / self.filename),
            ]
        if self.package and self.package_path:
            spec = importlib.util.find_spec(self.package)
            if spec is not None and spec.origin is not None:
                found.append((f"package {self.package}", Path(spec.origin).parent / self.package_path))
        for raw in self.cache_paths:
            found.append(("cache", Path(os.path.expandvars(os.path.expanduser(raw)))))
        return found


@lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    st = Path(path).stat()
    return _sha256_cached(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _torch_home() -> str:
    return os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )


_NETS: dict[str, NetSpec] = {}


def register_net(spec: NetSpec) -> NetSpec:
    _NETS[spec.name] = spec
    return spec


def all_nets() -> dict[str, NetSpec]:
    from dexbench.nets import catalog  # noqa: F401 - registers the known networks

    return dict(sorted(_NETS.items()))


def get_net(name: str) -> NetSpec:
    nets = all_nets()
    if name not in nets:
        raise DexbenchError(f"unknown network {name!r}", f"known: {', '.join(nets)}")
    return nets[name]


@dataclass(frozen=True)
class ResolvedWeights:
    net: str
    path: Path
    sha256: str
    verified: bool  # the digest matched the registry's (False: the registry pins none; the digest is recorded)
    origin: str


def resolve_weights(name: str, explicit: str | Path | None = None) -> ResolvedWeights:
    """Find a network's file offline, check its sha256 where one is pinned, or raise WeightsUnavailable."""
    spec = get_net(name)
    mismatches: list[str] = []
    for origin, path in spec.candidates(explicit):
        if path.is_file():
            digest = file_sha256(path)
            if spec.sha256 is not None and digest != spec.sha256:
                mismatches.append(f"{path} has sha256 {digest[:12]}…")
                continue
            return ResolvedWeights(spec.name, path, digest, spec.sha256 is not None, origin)
        if origin == "explicit path":
            raise WeightsUnavailable(name, f"{path} does not exist", f"point to an existing {spec.filename}")
    pinned = f" (sha256 {spec.sha256})" if spec.sha256 else ""
    reason = f"{spec.filename}{pinned} not found"
    if mismatches:
        reason += "; rejected: " + "; ".join(mismatches)
    raise WeightsUnavailable(name, reason, spec.how_to_obtain or spec.source)


def weights_status() -> list[tuple[NetSpec, ResolvedWeights | None, str]]:
    """Every registered network with its resolved file, or the reason it is unavailable."""
    rows = []
    for spec in all_nets().values():
        try:
            rows.append((spec, resolve_weights(spec.name), ""))
        except WeightsUnavailable as exc:
            rows.append((spec, None, exc.reason))
    return rows
