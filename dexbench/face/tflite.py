"""Loading a MediaPipe .tflite network with ai-edge-litert (the iris and face-mesh networks), one thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dexbench.errors import DexbenchError


def load_interpreter(weights: Path, what: str) -> Any:
    """An allocated ai-edge-litert Interpreter for `weights`; `what` names the network in errors."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:  # pragma: no cover - ai-edge-litert is a declared dependency
        raise DexbenchError("ai-edge-litert is not installed", "pip install ai-edge-litert") from exc
    try:
        net = Interpreter(model_path=str(weights), num_threads=1)
        net.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        raise DexbenchError(f"cannot load the {what} network {weights}: {exc}", "check the .tflite file") from exc
    return net
