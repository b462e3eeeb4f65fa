"""Head pose from 2-D landmarks: a weak-perspective (scaled orthographic) fit against the 3-D mean shape.

Model (dexbench.geometry): uv_n = scale * (R @ X)[:2] + t for the head-model points X (meanshape.head_model), with
uv_n the landmarks in normalised crop coordinates. The fit minimises the weighted squared reprojection error over
the rigid points (RIGID_POINTS: nose, eye corners, upper jaw outline; brows, lids, lips and chin move with the
expression and are left out), by Gauss-Newton on (rotation increment, t, scale), started from the closed-form affine
camera projected onto the nearest scaled rotation. Each frame is fitted on its own: no temporal smoothing, so the
per-frame error is what calibration measures.

Normalised coordinates of an h x w crop: u_n = (u_px + 0.5 - w / 2) * 2 / S, v_n = (v_px + 0.5 - h / 2) * 2 / S with
S = max(h, w), which is geometry.pixels_to_normalised for square crops (the only kind dexbench writes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexbench.geometry import matrix_to_euler


@dataclass(frozen=True)
class PoseFit:
    rotation: np.ndarray  # (T, 3, 3)
    translation: np.ndarray  # (T, 2) normalised crop coordinates
    scale: np.ndarray  # (T,)
    yaw: np.ndarray  # (T,) degrees
    pitch: np.ndarray
    roll: np.ndarray
    rms: np.ndarray  # (T,) reprojection RMS on the fitted points, in normalised units / scale (head units)


def to_normalised(px: np.ndarray, height: int, width: int) -> np.ndarray:
    s = float(max(height, width))
    out = np.array(px, dtype=np.float64, copy=True)
    out[..., 0] = (out[..., 0] + 0.5 - width / 2.0) * (2.0 / s)
    out[..., 1] = (out[..., 1] + 0.5 - height / 2.0) * (2.0 / s)
    return out


def to_pixels(uv: np.ndarray, height: int, width: int) -> np.ndarray:
    s = float(max(height, width))
    out = np.array(uv, dtype=np.float64, copy=True)
    out[..., 0] = out[..., 0] * (s / 2.0) + width / 2.0 - 0.5
    out[..., 1] = out[..., 1] * (s / 2.0) + height / 2.0 - 0.5
    return out


def _skew(v: np.ndarray) -> np.ndarray:
    z = np.zeros(v.shape[:-1])
    return np.stack(
        [
            np.stack([z, -v[..., 2], v[..., 1]], -1),
            np.stack([v[..., 2], z, -v[..., 0]], -1),
            np.stack([-v[..., 1], v[..., 0], z], -1),
        ],
        -2,
    )


def _rodrigues(w: np.ndarray) -> np.ndarray:
    theta = np.linalg.norm(w)
    if theta < 1e-12:
        return np.eye(3) + _skew(w)
    k = _skew(w / theta)
    return np.eye(3) + np.sin(theta) * k + (1.0 - np.cos(theta)) * (k @ k)


def _init_affine(x: np.ndarray, uv: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Closed-form affine camera uv = M X + t (weighted), projected onto scale * the first two rows of a rotation."""
    sw = np.sqrt(w)[:, None]
    a = np.concatenate([x, np.ones((len(x), 1))], 1) * sw
    sol, *_ = np.linalg.lstsq(a, uv * sw, rcond=None)
    m = sol[:3].T  # (2, 3)
    r1, r2 = m[0], m[1]
    s = 0.5 * (np.linalg.norm(r1) + np.linalg.norm(r2))
    # Nearest orthonormal pair via SVD of the 2x3 block, completed by the cross product (right-handed).
    u, _, vt = np.linalg.svd(m, full_matrices=False)
    top = u @ vt
    rot = np.vstack([top, np.cross(top[0], top[1])])
    return rot, float(s), sol[3]


def fit_one(
    x: np.ndarray, uv: np.ndarray, w: np.ndarray, iters: int = 12
) -> tuple[np.ndarray, float, np.ndarray, float]:
    """Weighted weak-perspective fit of model points x (N, 3) to uv (N, 2); returns R, scale, t, rms."""
    rot, s, t = _init_affine(x, uv, w)
    # The affine start is ambiguous in depth for a shallow point set (the Necker reversal projects alike); try both
    # and keep the better fit.
    flip = np.diag([1.0, 1.0, -1.0])
    best = None
    for start in (rot, flip @ rot @ flip):
        r_, s_, t_ = _gauss_newton(x, uv, w, start, s, t, iters)
        if s_ <= 0:
            continue
        res = s_ * (x @ r_.T)[:, :2] + t_ - uv
        cost = float(np.sum(w[:, None] * res * res))
        if best is None or cost < best[0]:
            best = (cost, r_, s_, t_)
    if best is None:  # degenerate input (collinear points): no rotation explains it
        return np.full((3, 3), np.nan), float("nan"), np.full(2, np.nan), float("nan")
    cost, rot, s, t = best
    rms = np.sqrt(cost / max(np.sum(w), 1e-12)) / max(s, 1e-12)
    return rot, s, t, float(rms)


def _gauss_newton(x, uv, w, rot, s, t, iters):
    rot, t = rot.copy(), np.asarray(t, dtype=np.float64).copy()
    sw = np.sqrt(w)
    for _ in range(iters):
        rx = x @ rot.T  # (N, 3)
        res = s * rx[:, :2] + t - uv  # (N, 2)
        # d(R exp([dw]) X) = R [dw]x X = -R [X]x dw, in the rotated frame: -[RX]x R dw'; use the left increment
        # R <- exp([dw]) R, whose derivative is -[R X]x dw.
        jr = -s * _skew(rx)[:, :2, :]  # (N, 2, 3)
        js = rx[:, :2, None]  # (N, 2, 1)
        jt = np.broadcast_to(np.eye(2), (len(x), 2, 2))
        j = np.concatenate([jr, js, jt], -1) * sw[:, None, None]  # (N, 2, 6)
        j = j.reshape(-1, 6)
        r = (res * sw[:, None]).reshape(-1)
        step, *_ = np.linalg.lstsq(j, -r, rcond=None)
        rot = _rodrigues(step[:3]) @ rot
        s = s + step[3]
        t = t + step[4:]
        if np.max(np.abs(step)) < 1e-9:
            break
    return rot, s, t


def fit_pose(
    landmarks_px: np.ndarray,
    model: np.ndarray,
    height: int,
    width: int,
    points: tuple[int, ...],
    weights: np.ndarray | None = None,
) -> PoseFit:
    """Per-frame pose of landmarks (T, 68, 2) in crop pixels; frames with NaN landmarks get NaN pose."""
    lms = np.asarray(landmarks_px, dtype=np.float64)
    n = len(lms)
    idx = np.asarray(points)
    x = np.asarray(model, dtype=np.float64)[idx]
    w = np.ones(len(idx)) if weights is None else np.asarray(weights, dtype=np.float64)[idx]
    uv_all = to_normalised(lms, height, width)
    rot = np.full((n, 3, 3), np.nan)
    trans = np.full((n, 2), np.nan)
    scale = np.full(n, np.nan)
    rms = np.full(n, np.nan)
    for k in range(n):
        uv = uv_all[k, idx]
        if not np.all(np.isfinite(uv)):
            continue
        rot[k], scale[k], trans[k], rms[k] = fit_one(x, uv, w)
    yaw, pitch, roll = matrix_to_euler(rot)
    return PoseFit(rot, trans, scale, yaw, pitch, roll, rms)
