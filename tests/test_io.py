from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dexbench.errors import InputFileError
from dexbench.io.atomic import atomic_path, dumps_json, write_json
from dexbench.io.jpeg import decode_jpeg, encode_jpeg
from dexbench.io.video import probe_video, read_video, write_video


def _frames(n: int = 10, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    f = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    f[:, 10:30, 10:30] = [200, 50, 30]
    return f


def test_atomic_write_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == dumps_json({"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_canonical_json_is_order_independent() -> None:
    assert dumps_json({"b": 1, "a": [1.5, 2]}) == dumps_json({"a": [1.5, 2], "b": 1})
    with pytest.raises(ValueError):
        dumps_json({"x": float("nan")})


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_ffv1_roundtrip_is_lossless(tmp_path: Path, backend: str) -> None:
    frames = _frames()
    path = tmp_path / "v.mkv"
    write_video(path, frames, fps=25)
    decoded, fps = read_video(path, backend=backend)
    assert decoded.shape == frames.shape
    assert np.array_equal(decoded, frames)
    assert fps == pytest.approx(25.0)
    info = probe_video(path)
    assert (info.n_frames, info.width, info.height) == (10, 64, 64)


def test_video_bytes_are_deterministic(tmp_path: Path) -> None:
    frames = _frames()
    write_video(tmp_path / "a.mkv", frames, fps=25)
    write_video(tmp_path / "b.mkv", frames, fps=25)
    assert (tmp_path / "a.mkv").read_bytes() == (tmp_path / "b.mkv").read_bytes()


def test_bad_videos_name_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match=r"empty\.mkv: video is an empty"):
        read_video(empty)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01not a video" * 100)
    with pytest.raises(InputFileError, match=r"garbage\.mp4: cannot decode"):
        read_video(garbage)
    with pytest.raises(InputFileError, match=r"missing\.mkv: video not found"):
        read_video(tmp_path / "missing.mkv")


def test_truncated_video_is_rejected_or_short(tmp_path: Path) -> None:
    path = tmp_path / "t.mkv"
    write_video(path, _frames(20), fps=25)
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 3])
    try:
        frames, _ = read_video(cut)
    except InputFileError as exc:
        assert "cut.mkv" in str(exc)
    else:  # a decoder may recover the complete leading frames; it must never invent the missing ones
        assert len(frames) < 20


def test_write_video_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "x.mkv", np.zeros((2, 8, 8, 3), np.float32), fps=25)
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "x.mkv", np.zeros((0, 8, 8, 3), np.uint8), fps=25)
    assert not list(tmp_path.iterdir())


def test_jpeg_roundtrip_is_close() -> None:
    img = np.full((32, 32, 3), 120, np.uint8)
    img[8:24, 8:24] = [30, 200, 90]
    out = decode_jpeg(encode_jpeg(img, 95))
    assert out.shape == img.shape
    assert np.abs(out.astype(int) - img).mean() < 3
