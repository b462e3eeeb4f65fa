"""Face analysis: detection + tracking (YuNet), 68-point landmarks (dlib), head pose and expression descriptors."""

from dexbench.face.analyzer import FaceAnalyzer, FaceTrack
from dexbench.face.expression import EXPRESSION_NAMES, EXPRESSION_SPACE
from dexbench.face.tracking import FaceBoxes

__all__ = ["EXPRESSION_NAMES", "EXPRESSION_SPACE", "FaceAnalyzer", "FaceBoxes", "FaceTrack"]
