"""Ray engine (`pip install dexbench[ray]`): one Ray task per shard, on a local Ray or the cluster at RAY_ADDRESS.

Every node must see the raw folder and the shard folder at the same paths (a shared filesystem) and have dexbench
installed; each task writes its shard files itself, only the small stats dict travels back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from dexbench.data.engines.worker_env import init_worker, single_thread_env
from dexbench.errors import DexbenchError


def _run(fn: Callable[[Any], dict], spec: Any) -> dict:
    init_worker()
    return fn(spec)


class RayEngine:
    name = "ray"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            raise DexbenchError("the Ray engine needs Ray", "pip install 'dexbench[ray]'") from exc

    def _init(self) -> bool:
        import ray

        if ray.is_initialized():
            return False
        address = os.environ.get("RAY_ADDRESS")
        kwargs: dict[str, Any] = {
            "ignore_reinit_error": True,
            "log_to_driver": False,
            "runtime_env": {"env_vars": {**single_thread_env(), "DEXBENCH_QUIET": "1"}},
        }
        if address:
            ray.init(address=address, **kwargs)
        else:  # a private local Ray sized to --workers; no dashboard, nothing listens beyond this machine
            ray.init(num_cpus=self.workers, include_dashboard=False, **kwargs)
        return True

    def map(self, fn: Callable[[Any], dict], specs: Iterable[Any]) -> Iterator[dict]:
        import ray

        specs = list(specs)
        if not specs:
            return
        started = self._init()
        try:
            task = ray.remote(num_cpus=1, max_retries=2)(_run)
            fn_ref = ray.put(fn)
            pending = [task.remote(fn_ref, spec) for spec in specs]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        finally:
            if started:
                ray.shutdown()
