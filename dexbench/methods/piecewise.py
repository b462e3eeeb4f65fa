"""Piecewise-affine image warping over a fixed triangulation (the classical landmark-driven 2-D warp).

One backward map per output frame: every output pixel is labelled with the triangle covering it (OpenCV polygon
fills, nearer triangles painted last so that self-occlusion is resolved by depth), the triangles' output -> source
affines are applied to all pixels at once with NumPy, and a single `cv2.remap` samples the source.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

_SHIFT = 4  # fixed-point bits for sub-pixel polygon vertices


def border_points(height: int, width: int) -> np.ndarray:
    """Eight anchors just outside the image (corners and edge midpoints) that stay put: the background frame."""
    x0, y0, x1, y1 = -1.0, -1.0, float(width), float(height)
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[x0, y0], [xm, y0], [x1, y0], [x1, ym], [x1, y1], [xm, y1], [x0, y1], [x0, ym]])


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (K, 3) of vertex indices; coincident points (e.g. closed eyelids) are left out."""
    return np.asarray(Delaunay(np.asarray(points, np.float64)).simplices, np.int64)


def _affines(dst: np.ndarray, src: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle the 2x3 map from output (dst) to source coordinates, and which triangles are non-degenerate."""
    d = dst[tris]  # (K, 3, 2)
    s = src[tris]
    m = np.concatenate([d, np.ones((*d.shape[:2], 1))], axis=-1)  # (K, 3, 3): rows [x, y, 1]
    det = np.linalg.det(m)
    ok = np.abs(det) > 1e-6
    m[~ok] = np.eye(3)
    a = np.linalg.solve(m, s)  # (K, 3, 2): [x y 1] @ a = source point
    return np.swapaxes(a, 1, 2), ok


def warp_frame(
    image: np.ndarray, src: np.ndarray, dst: np.ndarray, tris: np.ndarray, depth: np.ndarray | None = None
) -> np.ndarray:
    """Warp `image` so that its points `src` (N, 2) move to `dst` (N, 2); `depth` (N,) orders overlapping triangles."""
    h, w = image.shape[:2]
    affine, ok = _affines(dst, src, tris)
    order = np.arange(len(tris))
    if depth is not None:
        order = np.argsort(-depth[tris].mean(axis=1), kind="stable")  # far first, near painted over it
    label = np.full((h, w), -1, np.int32)
    fixed = np.round(dst * (1 << _SHIFT)).astype(np.int32)
    for k in order:
        if ok[k]:
            cv2.fillConvexPoly(label, fixed[tris[k]], int(k), lineType=cv2.LINE_8, shift=_SHIFT)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    inside = label >= 0
    a = affine[np.maximum(label, 0)]  # (h, w, 2, 3)
    map_x = np.where(inside, a[..., 0, 0] * xs + a[..., 0, 1] * ys + a[..., 0, 2], xs)
    map_y = np.where(inside, a[..., 1, 0] * xs + a[..., 1, 1] * ys + a[..., 1, 2], ys)
    return cv2.remap(
        image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
