"""Run the real `dexbench` command in a subprocess, as a user would, with a minimal environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def dexbench(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # HOME inside the test folder keeps caches (feature cache, torch) out of the real home directory
    return subprocess.run(
        [sys.executable, "-m", "dexbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"DEXBENCH_QUIET": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(cwd)},
    )
