"""Talking-head motion tracks: head pose (Euler angles, translation, scale) plus expression curves over time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexbench.geometry import euler_to_matrix

from .expression import BLINK_LEFT, BLINK_RIGHT, BROW_RAISE, EXPRESSION_NAMES, JAW_OPEN, NUM_EXPRESSIONS, SMILE

POSE_LIMITS: dict[str, tuple[float, float]] = {
    "yaw": (-35.0, 35.0),
    "pitch": (-20.0, 20.0),
    "roll": (-12.0, 12.0),
    "tx": (-0.08, 0.08),
    "ty": (-0.08, 0.08),
    "scale": (0.50, 0.60),
}
_FIELDS = ("yaw", "pitch", "roll", "tx", "ty", "scale")


@dataclass
class MotionTrack:
    yaw: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    scale: np.ndarray
    expression: np.ndarray  # (T, NUM_EXPRESSIONS), columns in EXPRESSION_NAMES order
    fps: float = 25.0

    def __post_init__(self) -> None:
        for name in _FIELDS:
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64).reshape(-1))
        self.expression = np.asarray(self.expression, dtype=np.float64).reshape(-1, NUM_EXPRESSIONS)
        n = len(self.yaw)
        if any(len(getattr(self, f)) != n for f in _FIELDS) or len(self.expression) != n:
            raise ValueError("all MotionTrack arrays must have the same length")

    def __len__(self) -> int:
        return len(self.yaw)

    def slice(self, start: int, stop: int) -> MotionTrack:
        s = slice(start, stop)
        return MotionTrack(*(getattr(self, f)[s].copy() for f in _FIELDS), self.expression[s].copy(), fps=self.fps)

    def rotation(self) -> np.ndarray:
        return euler_to_matrix(self.yaw, self.pitch, self.roll)

    def translation(self) -> np.ndarray:
        return np.stack([self.tx, self.ty], axis=-1)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {f: getattr(self, f).copy() for f in _FIELDS}
        out["expression"] = self.expression.copy()
        out["fps"] = np.asarray(self.fps, dtype=np.float64)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MotionTrack:
        fps = float(np.asarray(arrays["fps"])) if "fps" in arrays else 25.0
        return cls(*(np.asarray(arrays[f]) for f in _FIELDS), np.asarray(arrays["expression"]), fps=fps)


def _smooth_noise(rng: np.random.Generator, n: int, sigma_frames: float) -> np.ndarray:
    """Unit-variance Gaussian-filtered white noise (variance independent of n, so ranges are predictable)."""
    half = int(np.ceil(3 * sigma_frames))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_frames) ** 2)
    k /= np.sqrt(np.sum(k**2))
    white = rng.standard_normal(n + 2 * half)
    return np.convolve(white, k, mode="valid")


def _eased_targets(rng: np.random.Generator, n: int, fps: float, std: float, limit: float) -> np.ndarray:
    """Hold-and-move trajectory: the head settles on a target, then turns to a new one with an eased transition."""
    out = np.empty(n)
    cur = float(np.clip(rng.normal(0.0, std * 0.6), -limit, limit))
    i = 0
    while i < n:
        hold = int(rng.uniform(0.6, 3.0) * fps)
        out[i : i + hold] = cur
        i += hold
        if i >= n:
            break
        nxt = float(np.clip(rng.normal(0.0, std), -limit, limit))
        # Bigger turns take longer: peak angular speed stays below ~100 deg/s, as in conversational head motion.
        move = max(2, int(max(rng.uniform(0.4, 1.2), abs(nxt - cur) / 60.0) * fps))
        ease = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, move + 1) / move)
        seg = cur + (nxt - cur) * ease
        out[i : i + move] = seg[: max(0, min(move, n - i))]
        i += move
        cur = nxt
    return out


def _bump(length: int, attack: float = 0.5) -> np.ndarray:
    """A [0, 1] pulse rising over `attack` of its length and falling over the rest (raised-cosine halves)."""
    length = max(length, 2)
    up = max(1, round(length * attack))
    rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(up) / up)
    fall = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, length - up + 1) / (length - up))
    return np.concatenate([rise, [1.0], fall])


def _add_pulse(track: np.ndarray, start: int, pulse: np.ndarray) -> None:
    stop = min(len(track), start + len(pulse))
    if stop > start:
        track[start:stop] = np.maximum(track[start:stop], pulse[: stop - start])


def _speech(rng: np.random.Generator, n: int, fps: float) -> np.ndarray:
    jaw = np.zeros(n)
    t = rng.uniform(0.0, 0.8)
    while t * fps < n:
        utterance_end = t + rng.uniform(1.0, 4.0)
        rate = rng.uniform(3.0, 5.0)  # syllables per second
        while t < utterance_end and t * fps < n:
            dur = 1.0 / (rate * rng.uniform(0.8, 1.25))
            pulse = rng.uniform(0.15, 0.75) * _bump(round(dur * fps) + 1, attack=0.45)
            _add_pulse(jaw, int(t * fps), pulse)
            t += dur
        t += rng.uniform(0.3, 1.5)  # pause between utterances
    # Lips rarely close fully between syllables of connected speech: a light smoothing keeps that.
    k = np.array([0.25, 0.5, 0.25])
    return np.clip(np.convolve(np.pad(jaw, 1, mode="edge"), k, mode="valid"), 0.0, 1.0)


def _blinks(rng: np.random.Generator, n: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    left, right = np.zeros(n), np.zeros(n)
    t = rng.uniform(0.3, 3.0)
    while t * fps < n:
        length = max(3, round(rng.uniform(0.15, 0.25) * fps))
        pulse = _bump(length, attack=0.4)
        start = int(t * fps)
        asym = rng.uniform()
        _add_pulse(left, start, pulse * (1.0 if asym > 0.05 else rng.uniform(0.0, 0.5)))
        _add_pulse(right, start, pulse * (1.0 if asym < 0.95 else rng.uniform(0.0, 0.5)))
        t += rng.uniform(2.0, 6.0)
    return left, right


def sample_motion(seed: int, n_frames: int, fps: float = 25.0) -> MotionTrack:
    """Natural talking-head motion, deterministic from `seed` (uses only its own numpy Generator)."""
    if n_frames < 1:
        raise ValueError("n_frames must be positive")
    rng = np.random.default_rng([int(seed), 0x5EED])
    n = int(n_frames)
    sig = 0.35 * fps  # jitter correlation time ~0.35 s
    lim = POSE_LIMITS

    def pose(std: float, jitter: float, name: str) -> np.ndarray:
        base = _eased_targets(rng, n, fps, std, lim[name][1] * 0.85)
        return np.clip(base + jitter * _smooth_noise(rng, n, sig), *lim[name])

    yaw = pose(14.0, 2.0, "yaw")
    pitch = pose(7.0, 1.5, "pitch")
    roll = pose(4.0, 1.0, "roll")
    tx = np.clip(0.03 * _smooth_noise(rng, n, fps * 1.0), *lim["tx"])
    ty = np.clip(0.025 * _smooth_noise(rng, n, fps * 1.0), *lim["ty"])
    scale = np.clip(0.55 + 0.018 * _smooth_noise(rng, n, fps * 1.5), *lim["scale"])

    expr = np.zeros((n, NUM_EXPRESSIONS))
    expr[:, JAW_OPEN] = _speech(rng, n, fps)
    expr[:, BLINK_LEFT], expr[:, BLINK_RIGHT] = _blinks(rng, n, fps)
    # Smiles drift within a clip around a per-clip mood, over most of the range (v2 sat near 0 for most clips).
    smile_level = rng.uniform(-1.0, 1.0)
    expr[:, SMILE] = 1.0 / (1.0 + np.exp(-(smile_level + 1.5 * _smooth_noise(rng, n, fps * 1.5)))) * 0.9
    # Brow raises punctuate speech: a pulse every 1.5-5 s on average.
    brow = np.zeros(n)
    t = rng.uniform(0.2, 2.5)
    while t * fps < n:
        if rng.uniform() < 0.8:
            _add_pulse(brow, int(t * fps), rng.uniform(0.4, 1.0) * _bump(int(rng.uniform(0.5, 1.5) * fps), 0.3))
        t += rng.uniform(1.5, 5.0)
    expr[:, BROW_RAISE] = brow
    expr = np.clip(expr, 0.0, 1.0)
    assert expr.shape[1] == len(EXPRESSION_NAMES)
    return MotionTrack(yaw, pitch, roll, tx, ty, scale, expr, fps=float(fps))
