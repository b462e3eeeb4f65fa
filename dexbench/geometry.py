"""Head-pose conventions shared by SynthHeads, the annotators, the baselines and the motion metrics.

Frames (OpenCV camera convention, so that solvePnP results drop in unchanged):
- camera / image: x to the image right, y to the image bottom, z into the scene (away from the viewer);
- head: origin at the head centre; with the identity rotation its axes coincide with the camera's, so the face
  looks straight at the camera and the nose tip lies on the head's -z side.

Weak-perspective (scaled orthographic) projection, the 6-DoF pose of DeX-Portrait (3 rotation, 2 translation,
1 scale): a head-frame point X maps to normalised image coordinates

    (u_n, v_n) = scale * (R @ X)[:2] + (tx, ty)

where u_n, v_n run from -1 (left / top edge) to +1 (right / bottom edge) of a square image, and head units are
chosen so that the head's half-width is about 1. Pixel coordinates of a size-S image (pixel centres at integers):
u_px = (u_n + 1) * S / 2 - 0.5.

Euler angles, in degrees, compose as R = Rz(roll) @ Ry(yaw) @ Rx(pitch), each a right-handed rotation about the
camera axis it names. What a viewer sees with y down: positive yaw moves the nose tip toward the image left,
positive pitch moves it toward the image bottom (head nods down), positive roll turns the head clockwise on screen.
"""

from __future__ import annotations

import numpy as np

ROTATION_CONVENTION = "R = Rz(roll) @ Ry(yaw) @ Rx(pitch); camera x right, y down, z forward; degrees"
PROJECTION_CONVENTION = "weak perspective: uv_norm = scale * (R @ X)[:2] + t, uv_norm in [-1, 1] over the image"


def _rx(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def euler_to_matrix(yaw: np.ndarray | float, pitch: np.ndarray | float, roll: np.ndarray | float) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from Euler angles in degrees (see the module docstring)."""
    y, p, r = (np.deg2rad(np.asarray(v, dtype=np.float64)) for v in (yaw, pitch, roll))
    return _rz(r) @ _ry(y) @ _rx(p)


def matrix_to_euler(rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of `euler_to_matrix` (yaw in [-90, 90] degrees); returns (yaw, pitch, roll) in degrees."""
    r = np.asarray(rotation, dtype=np.float64)
    # R = Rz Ry Rx  =>  R[2,0] = -sin(yaw), R[2,1] = cos(yaw) sin(pitch), R[1,0] = sin(roll) cos(yaw)
    yaw = np.arcsin(np.clip(-r[..., 2, 0], -1.0, 1.0))
    pitch = np.arctan2(r[..., 2, 1], r[..., 2, 2])
    roll = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    return np.rad2deg(yaw), np.rad2deg(pitch), np.rad2deg(roll)


def project(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    """Weak-perspective projection of head-frame points (N, 3) to normalised image coordinates (N, 2)."""
    cam = np.asarray(points, dtype=np.float64) @ np.asarray(rotation, dtype=np.float64).T
    return np.asarray(scale, dtype=np.float64) * cam[..., :2] + np.asarray(translation, dtype=np.float64)


def normalised_to_pixels(uv: np.ndarray, size: int) -> np.ndarray:
    return (np.asarray(uv, dtype=np.float64) + 1.0) * (size / 2.0) - 0.5


def pixels_to_normalised(px: np.ndarray, size: int) -> np.ndarray:
    return (np.asarray(px, dtype=np.float64) + 0.5) * (2.0 / size) - 1.0


def geodesic_angle_deg(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Angle of the rotation that takes r1 to r2, in degrees (the convention-free pose error)."""
    rel = np.swapaxes(np.asarray(r1, dtype=np.float64), -1, -2) @ np.asarray(r2, dtype=np.float64)
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.rad2deg(np.arccos(np.clip(cos, -1.0, 1.0)))
