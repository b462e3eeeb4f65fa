"""Engines map the pure shard worker `fn(spec) -> stats` over shard specs: a local process pool or Ray.

The engine never changes what is written (each shard is a pure function of its spec), so it is chosen outside the
DVC `cmd` (`--engine`/`DEXBENCH_ENGINE`, `--workers`/`DEXBENCH_WORKERS`) and switching it never invalidates outputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from dexbench.errors import DexbenchError

ENGINES = ("local", "ray")


class Engine(Protocol):
    name: str
    workers: int

    def map(self, fn: Callable[[Any], dict], specs: Iterable[Any]) -> Iterator[dict]:
        """Run fn on every spec; yield each result as it completes (completion order, not input order)."""
        ...


def default_workers() -> int:
    env = os.environ.get("DEXBENCH_WORKERS")
    if env:
        try:
            return max(1, int(env))
        except ValueError as exc:
            raise DexbenchError(f"DEXBENCH_WORKERS={env!r} is not an integer") from exc
    return 1


def get_engine(name: str | None = None, workers: int | None = None) -> Engine:
    """The engine called `name` (default: $DEXBENCH_ENGINE, else local) with `workers` parallel shard workers."""
    name = (name or os.environ.get("DEXBENCH_ENGINE") or "local").lower()
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise DexbenchError(f"--workers must be >= 1 (got {workers})")
    if name == "local":
        from dexbench.data.engines.local import LocalEngine

        return LocalEngine(workers)
    if name == "ray":
        from dexbench.data.engines.ray_engine import RayEngine

        return RayEngine(workers)
    raise DexbenchError(f"unknown engine {name!r}", f"choose one of: {', '.join(ENGINES)}")
