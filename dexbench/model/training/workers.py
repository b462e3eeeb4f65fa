"""Local data-parallel workers: a command re-run as N torchrun processes on this machine (DDP through accelerate)."""

from __future__ import annotations

import os
import subprocess
import sys


def in_worker() -> bool:
    """True inside a process that torchrun or accelerate launch started (they set RANK)."""
    return "RANK" in os.environ


def is_main_worker() -> bool:
    return os.environ.get("RANK", "0") == "0"


def run_workers(processes: int, target: list[str], env: dict[str, str] | None = None) -> int:
    """Run `target` (`["-m", "module", ...]` or `["script.py", ...]`) as `processes` local torchrun workers; the
    exit code. One OpenMP thread per worker unless OMP_NUM_THREADS says otherwise: N workers share N cores."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), *target]
    return subprocess.call(cmd, env={"OMP_NUM_THREADS": "1", **os.environ, **(env or {})})
