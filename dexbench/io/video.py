"""Video decode (decord, PyAV fallback) and lossless encode (FFV1 in Matroska by default).

Both decoders return bit-identical RGB frames for the codecs dexbench writes; decord is preferred because it is the
faster of the two here, PyAV is the fallback where decord has no wheel or cannot open a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from dexbench.errors import InputFileError
from dexbench.io.atomic import atomic_path

VIDEO_SUFFIXES = (".mkv", ".mp4", ".avi", ".mov", ".webm")

# codec name -> (PyAV encoder, pixel format, encoder options). FFV1 is lossless and every FFmpeg build decodes it.
CODECS: dict[str, tuple[str, str, dict[str, str]]] = {
    "ffv1": ("ffv1", "bgr0", {}),
    "h264-lossless": ("libx264rgb", "rgb24", {"crf": "0", "preset": "veryfast"}),
    "h264": ("libx264", "yuv420p", {"crf": "18", "preset": "veryfast"}),
}
DEFAULT_CODEC = "ffv1"


@dataclass(frozen=True)
class VideoInfo:
    n_frames: int
    fps: float
    width: int
    height: int


def _decode_decord(path: Path) -> tuple[np.ndarray, float]:
    import decord

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    n = len(reader)
    if n == 0:
        raise ValueError("no frames")
    frames = reader.get_batch(list(range(n))).asnumpy()
    return frames, float(reader.get_avg_fps())


def _decode_pyav(path: Path) -> tuple[np.ndarray, float]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    if not frames:
        raise ValueError("no frames")
    return np.stack(frames), fps


def read_video(path: str | Path, backend: str | None = None) -> tuple[np.ndarray, float]:
    """Decode a whole video to (T, H, W, 3) uint8 RGB and its frame rate.

    `backend` is "decord", "pyav" or None (decord, then PyAV). Raises InputFileError naming the file when it is
    missing, empty or undecodable by every backend.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "video not found")
    if p.stat().st_size == 0:
        raise InputFileError(p, "video is an empty (zero-byte) file", "re-export or re-download it")
    backend = backend or os.environ.get("DEXBENCH_VIDEO_BACKEND")
    order = [backend] if backend else ["decord", "pyav"]
    errors: list[str] = []
    for name in order:
        try:
            return (_decode_decord if name == "decord" else _decode_pyav)(p)
        except ImportError:
            errors.append(f"{name} not installed")
        except Exception as exc:  # decoders raise many types for corrupt input; all mean "cannot read"
            errors.append(f"{name}: {exc}".splitlines()[0][:200])
    raise InputFileError(p, "cannot decode video (" + "; ".join(errors) + ")", "check the file is a complete video")


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count, rate and size without decoding every frame (PyAV container metadata, counted if absent)."""
    import av

    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        raise InputFileError(p, "video missing or empty")
    try:
        with av.open(str(p)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            n = stream.frames or sum(1 for _ in container.decode(stream))
            return VideoInfo(n_frames=int(n), fps=fps, width=stream.width, height=stream.height)
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise InputFileError(p, f"cannot read video header ({exc})") from exc


def write_video(path: str | Path, frames: np.ndarray, fps: float, codec: str = DEFAULT_CODEC) -> None:
    """Encode (T, H, W, 3) uint8 RGB frames; written to a temporary name and renamed when complete."""
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.shape} {frames.dtype}")
    if len(frames) == 0:
        raise ValueError("cannot write a video with no frames")
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose one of {sorted(CODECS)}")
    encoder, pix_fmt, options = CODECS[codec]
    # bitexact: no random segment UID or encoder/version strings, so equal frames give equal bytes (DVC hashes them)
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", container_options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(encoder, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
        stream.pix_fmt = pix_fmt
        stream.options = {**options, "flags": "+bitexact"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
