"""The default engine: shards in a local process pool (`--workers N`), or in this process when N == 1."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from dexbench.data.engines.worker_env import init_worker


class LocalEngine:
    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def map(self, fn: Callable[[Any], dict], specs: Iterable[Any]) -> Iterator[dict]:
        specs = list(specs)
        if self.workers == 1 or len(specs) <= 1:
            for spec in specs:
                yield fn(spec)
            return
        # spawn, not fork: the parent may hold threads (ONNX Runtime, Rich) that fork would copy in a locked state
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=min(self.workers, len(specs)), mp_context=ctx, initializer=init_worker
        ) as ex:
            pending: set[Future] = set()
            queue = iter(specs)
            # keep at most 2 shards per worker queued, so a failure stops the run early
            for spec in queue:
                pending.add(ex.submit(fn, spec))
                if len(pending) >= 2 * self.workers:
                    break
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        yield fut.result()
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending.add(ex.submit(fn, nxt))
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
