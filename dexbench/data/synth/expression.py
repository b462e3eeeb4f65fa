"""Expression parameters of SynthHeads: a small set of independent, bounded facial controls."""

from __future__ import annotations

import numpy as np

# Order matters: MotionTrack.expression columns follow it.
EXPRESSION_NAMES: tuple[str, ...] = ("jaw_open", "smile", "blink_left", "blink_right", "brow_raise")
NUM_EXPRESSIONS = len(EXPRESSION_NAMES)
NEUTRAL_EXPRESSION = np.zeros(NUM_EXPRESSIONS, dtype=np.float64)
NEUTRAL_EXPRESSION.setflags(write=False)

JAW_OPEN, SMILE, BLINK_LEFT, BLINK_RIGHT, BROW_RAISE = range(NUM_EXPRESSIONS)


def as_expression(expression: np.ndarray | dict[str, float] | None) -> np.ndarray:
    """Normalise None / a name->value dict / a vector into a clipped float64 vector of length NUM_EXPRESSIONS."""
    if expression is None:
        return NEUTRAL_EXPRESSION.copy()
    if isinstance(expression, dict):
        unknown = set(expression) - set(EXPRESSION_NAMES)
        if unknown:
            raise KeyError(f"unknown expression parameters: {sorted(unknown)}")
        vec = np.array([float(expression.get(n, 0.0)) for n in EXPRESSION_NAMES])
    else:
        vec = np.asarray(expression, dtype=np.float64).reshape(-1)
        if vec.shape != (NUM_EXPRESSIONS,):
            raise ValueError(f"expression must have {NUM_EXPRESSIONS} entries, got shape {vec.shape}")
    return np.clip(vec, 0.0, 1.0)
