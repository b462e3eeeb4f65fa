"""Running a derivation under OpenBLAS's Haswell kernels, the ones dexbench's SynthHeads-derived constants were
derived with (test_calibration's alignment test says why the kernel matters)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest


def _has_avx2() -> bool:
    try:
        return platform.machine() in ("x86_64", "AMD64") and " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


needs_haswell_kernels = pytest.mark.skipif(
    not _has_avx2(), reason="OpenBLAS's Haswell kernels need an x86-64 CPU with AVX2 (Linux)"
)


def run_under_haswell_kernels(code: str, timeout: float = 300) -> str:
    """Run Python `code` in a child process with OPENBLAS_CORETYPE=Haswell; its standard output."""
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
