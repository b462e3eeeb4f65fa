"""On-disk cache of reference-side features (target / driver / source frames never change between methods).

Entries are keyed by (manifest sha256, extractor, weights sha256, metric version) plus the pair and the role of the
frames, so a second method scored on the same manifest reuses every reference feature, and any change of network,
weights, extractor settings or manifest misses the cache instead of returning stale numbers. Files are plain
`.npz` archives of numeric arrays, read with allow_pickle=False (a cache is never trusted with code).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from dexbench.errors import InputFileError


def default_cache_dir() -> Path:
    env = os.environ.get("DEXBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))) / "dexbench" / "features"


def cache_key(*, manifest_sha256: str, extractor: str, weights_sha256: str, version: str, **settings: str) -> str:
    """A stable digest of everything that determines a reference feature."""
    parts = dict(
        manifest_sha256=manifest_sha256, extractor=extractor, weights_sha256=weights_sha256, version=version, **settings
    )
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


class FeatureCache:
    """`root/<extractor>/<key>/<pair_id>.<role>.npz`; `root=None` disables caching (every get misses)."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self.hits = 0
        self.misses = 0

    def _path(self, extractor: str, key: str, pair_id: str, role: str) -> Path:
        assert self.root is not None
        safe = extractor.replace("/", "_")
        return self.root / safe / key / f"{pair_id}.{role}.npz"

    def get(self, extractor: str, key: str, pair_id: str, role: str) -> dict[str, np.ndarray] | None:
        if self.root is None:
            self.misses += 1
            return None
        path = self._path(extractor, key, pair_id, role)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise InputFileError(
                path, f"unreadable feature-cache entry ({exc})", "delete it (or the cache folder)"
            ) from exc
        self.hits += 1
        return arrays

    def put(self, extractor: str, key: str, pair_id: str, role: str, arrays: dict[str, np.ndarray]) -> None:
        if self.root is None:
            return
        path = self._path(extractor, key, pair_id, role)
        path.parent.mkdir(parents=True, exist_ok=True)
        # written to a temp name then renamed: concurrent evaluations never see half an entry
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
