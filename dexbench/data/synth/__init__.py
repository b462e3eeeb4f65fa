"""SynthHeads v1: a deterministic procedural talking-head renderer with exact pose / expression / landmark truth."""

from .clip import render_clip
from .expression import EXPRESSION_NAMES, NEUTRAL_EXPRESSION, NUM_EXPRESSIONS, as_expression
from .identity import Identity, sample_identity
from .motion import POSE_LIMITS, MotionTrack, sample_motion
from .render import HeadRenderer, RenderResult

__all__ = [
    "EXPRESSION_NAMES",
    "NEUTRAL_EXPRESSION",
    "NUM_EXPRESSIONS",
    "POSE_LIMITS",
    "HeadRenderer",
    "Identity",
    "MotionTrack",
    "RenderResult",
    "as_expression",
    "render_clip",
    "sample_identity",
    "sample_motion",
]
